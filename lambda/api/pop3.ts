/** `mailfetch/pop3`: the POP3 client on its own (no AWS): sessions, listings, byte-exact message streams. */
export * from '../pop3';
