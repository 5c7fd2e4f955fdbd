/**
 * Shrunk cases the (widened, MODEL_WIDEN=1) model test found against 31a15b2, replayed as
 * printed, with known issues not tolerated. Details of one: MF_DEBUG=1 MODEL_CASE='<json>'
 * npx vitest run test/fault/model.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../../fixtures/fake-eventbridge';
import { parseCase } from '../model/campaign';
import { describeConfig } from '../model/format';
import { runSequence } from '../model/sequence-runner';

const CASES: ReadonlyArray<readonly [what: string, json: string]> = [
  [
    // Found by the fault run after deferred DELEs were proven by content: the proof read
    // used maxMessageBytes as its RETR cap, while fetches allow a slack over it (LIST sizes
    // are estimates). A stored message of 1,612 octets listed at under 1,500 failed its proof
    // with MESSAGE_TOO_LARGE every day: QUIT withheld for good, the DELE never committed.
    'estimated sizes, after-days: a stored message over maxMessageBytes (within the fetch slack) is proven and deleted',
    '{"config":{"seed":1461075912,"profiles":["shared-uidl","estimated-sizes"],"perSession":2,"retention":"after-days","pipelining":true,"maxMessageBytes":1500,"maxAttempts":{"s3":2,"dynamodb":2}},"steps":[{"kind":"arrive","no":5,"mail":{"seq":4,"topic":2,"size":1612,"flavor":"bare-lf-dot","body":69}}]}',
  ],
  [
    // HOLE: one message, two objects ("2 fp:<fp>" and "2 sha:<hash>"). Message 4 gets the
    // recycled UIDL 2 with the size of the deleted message 2. Run 2 finds it suspect and
    // stores it under its fingerprint identity (record written, the "+OK" lost: QUIT
    // withheld, so Gmail still lists it). In the clean run the listing ends with a header
    // twin of message 3 under message 3's recycled UIDL, so lastKnownMessage's binary search
    // (which assumes "known" messages form a prefix) puts the boundary past message 4: not
    // suspect, identity plain "2" (message 2's stored record). As a stored message still
    // listed by Gmail it is a copy; settleCopy finds other content and settleDifferent
    // stores it under contentIdentity("2", sha): it never looks at the fingerprint identity
    // under which the very same message is already stored.
    'gmail + recycled UIDL, after-days: a message stored under its fingerprint identity is stored again under a content identity',
    '{"config":{"seed":2372349222,"profiles":["gmail","recycled-uidl"],"perSession":2,"retention":"after-days","pipelining":false,"maxMessageBytes":1500,"maxAttempts":{"s3":1,"dynamodb":1}},"steps":[{"kind":"arrive","no":1,"mail":{"seq":1,"topic":2,"size":340,"flavor":"plain","body":90}},{"kind":"arrive","no":2,"mail":{"seq":1,"topic":2,"size":260,"flavor":"plain","body":23}},{"kind":"arrive","no":3,"mail":{"seq":1,"topic":2,"size":300,"flavor":"plain","body":58}},{"kind":"run","advanceMs":300000,"faults":[{"kind":"aws","service":"dynamodb","nth":5,"when":"after"}]},{"kind":"delete","no":2},{"kind":"arrive","no":4,"mail":{"seq":2,"topic":2,"size":260,"flavor":"eight-bit","body":28}},{"kind":"run","advanceMs":300000,"faults":[{"kind":"aws","service":"dynamodb","nth":13,"when":"after"}]},{"kind":"delete","no":3},{"kind":"arrive","no":5,"mail":{"seq":1,"topic":2,"size":340,"flavor":"plain","body":25}}]}',
  ],
];

describe('model cases found in review', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let bus: FakeEventBridge;
  beforeAll(async () => {
    [s3, dynamo, bus] = await Promise.all([startS3rver(), startDynamoDbLocal(), startFakeEventBridge()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([s3?.stop(), dynamo?.stop(), bus?.close()]);
  });

  it.each(CASES)('%s', async (_what, json) => {
    const sequence = parseCase(json);
    const outcome = await runSequence({ s3, dynamo, bus }, sequence, { tolerateKnownIssues: false });
    const found = outcome.violations.map((v) => `[${v.invariant}] at ${v.at}: ${v.detail}`);
    expect(found, `${describeConfig(sequence.config)}\n${outcome.trace.join('\n')}`).toEqual([]);
  }, 120_000);
});
