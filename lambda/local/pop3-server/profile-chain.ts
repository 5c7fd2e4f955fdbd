// Folds the hooks of the active profiles into the few decisions the fake server asks for.
// Transforming hooks are chained in profile order; deciding hooks stop at the first answer.
import { multilineWire } from './fake-pop3-wire';
import type { FakeCommand, FakeMessage, FakePop3Profile, FakePop3Server, FakeSession } from './fake-pop3-types';

export class ProfileChain {
  constructor(readonly profiles: readonly FakePop3Profile[]) {}

  capabilities(caps: readonly string[], session: FakeSession): readonly string[] {
    return this.profiles.reduce((list, p) => p.capabilities?.(list, session) ?? list, caps);
  }

  accountName(loginName: string): string {
    return this.profiles.reduce((name, p) => p.accountName?.(name) ?? name, loginName);
  }

  refuseLogin(session: FakeSession, server: FakePop3Server): string | undefined {
    for (const p of this.profiles) {
      const refusal = p.refuseLogin?.(session, server);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  }

  assignUid(bytes: Buffer, server: FakePop3Server): string | undefined {
    for (const p of this.profiles) {
      const uid = p.assignUid?.(bytes, server);
      if (uid !== undefined) return uid;
    }
    return undefined;
  }

  listing(messages: readonly FakeMessage[], session: FakeSession, server: FakePop3Server): readonly FakeMessage[] {
    return this.profiles.reduce((list, p) => p.listing?.(list, session, server) ?? list, messages);
  }

  async onCommand(cmd: FakeCommand, session: FakeSession, server: FakePop3Server): Promise<boolean> {
    for (const p of this.profiles) {
      if (await p.onCommand?.(cmd, session, server)) return true;
    }
    return false;
  }

  reportedSize(size: number, message: FakeMessage, server: FakePop3Server): number {
    return this.profiles.reduce((n, p) => p.reportedSize?.(n, message, server) ?? n, size);
  }

  encodeMultiline(bytes: Buffer): Buffer {
    const encoder = this.profiles.findLast((p) => p.encodeMultiline)?.encodeMultiline;
    return encoder ? encoder(bytes) : multilineWire(bytes);
  }

  errorLine(line: string, session: FakeSession): string {
    return this.profiles.reduce((text, p) => p.errorLine?.(text, session) ?? text, line);
  }

  /** What a QUIT removes and hides besides its DELEs, per profile (hidings attributed by name). */
  quitEffects(session: FakeSession, server: FakePop3Server): { remove: FakeMessage[]; hide: { by: string; messages: readonly FakeMessage[] }[] } {
    const remove: FakeMessage[] = [];
    const hide: { by: string; messages: readonly FakeMessage[] }[] = [];
    for (const p of this.profiles) {
      const effects = p.quitEffects?.(session, server);
      if (effects?.remove) remove.push(...effects.remove);
      if (effects?.hide?.length) hide.push({ by: p.name, messages: effects.hide });
    }
    return { remove, hide };
  }

  async beforeUpdate(session: FakeSession): Promise<void> {
    for (const p of this.profiles) await p.beforeUpdate?.(session);
  }

  async afterUpdate(session: FakeSession): Promise<void> {
    for (const p of this.profiles) await p.afterUpdate?.(session);
  }
}
