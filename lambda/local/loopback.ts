/** Loopback address every embedded endpoint binds to: never reachable from other machines. */
export const LOOPBACK_HOST = '127.0.0.1';
