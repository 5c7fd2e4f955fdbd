/** `npm run bench`: runs every benchmark and prints ratios against in-run references. */
import { runDecoderBench } from './decoder.bench';

const d = runDecoderBench();
console.log(
  `[decoder] unstuffing ${d.decoderMBps.toFixed(0)} MB/s (${d.ratio.toFixed(2)}x the time of a plain Buffer copy at ${d.copyMBps.toFixed(0)} MB/s); ` +
    `unstuffing + copying the output ${d.decodeCopyMBps.toFixed(0)} MB/s (${d.ratioWithCopy.toFixed(2)}x)`,
);
