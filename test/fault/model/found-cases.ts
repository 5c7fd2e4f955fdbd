/**
 * Shrunk cases that random campaigns (`npm run test:fault`, a new base seed each run) found,
 * replayed as they are in every run of the model test, so a fix stays fixed.
 */
export interface FoundCase {
  /** What went wrong before the fix. */
  readonly found: string;
  /** The case as the failure report printed it (MODEL_CASE). */
  readonly json: string;
}

export const FOUND_CASES: readonly FoundCase[] = [
  {
    found:
      'a recycled UIDL whose first message was skipped as too large names a new message, too large as well and of another size: it was reported as skipped but left only the old message\'s skip record',
    json: '{"config":{"seed":3051618498,"profiles":["recycled-uidl","estimated-sizes","expire-zero"],"perSession":3,"retention":"after-days","pipelining":true,"maxMessageBytes":1500,"maxAttempts":{"s3":1,"dynamodb":2}},"steps":[{"kind":"arrive","no":1,"mail":{"seq":1,"topic":2,"size":260,"flavor":"bare-lf-dot-late","body":43}},{"kind":"arrive","no":2,"mail":{"seq":2,"topic":0,"size":1614,"flavor":"plain","body":46}},{"kind":"run","advanceMs":300000,"faults":[]},{"kind":"delete","no":2},{"kind":"arrive","no":4,"mail":{"seq":4,"topic":2,"size":220,"flavor":"plain","body":76}},{"kind":"arrive","no":5,"mail":{"seq":5,"topic":0,"size":1945,"flavor":"plain","body":57}}]}',
  },
];
