import test from 'ava';
import { AskTimeoutError } from '../../src/actors/errors.js';
import { ActorStoppedError, ask, isAlive, pendingAsks, reply, spawn, startSystem, stop, stopSystem, tell, type ActorRef, type ReplyTo } from '../../src/actors/nact.js';

type Echo = { readonly type: 'Echo'; readonly n: number; readonly replyTo: ReplyTo<number> } | { readonly type: 'Ignore'; readonly replyTo: ReplyTo<number> };

function echoActor(name: string): { ref: ActorRef<Echo>; done: () => void } {
  const system = startSystem();
  const ref = spawn<number, Echo>(system, name, (count, msg) => {
    if (msg.type === 'Echo') reply(msg.replyTo, msg.n);
    return count + 1;
  }, { initialState: 0, onCrash: () => 'stop' });
  return { ref, done: () => { stopSystem(system); } };
}

test.serial('100,000 concurrent asks all get their own reply', async (t) => {
  const { ref, done } = echoActor('echo');
  const n = 100_000;
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => ask(ref, (replyTo) => ({ type: 'Echo' as const, n: i, replyTo }), 60_000)));
  let mismatches = 0;
  replies.forEach((value, i) => { if (value !== i) mismatches += 1; });
  t.is(replies.length, n);
  t.is(mismatches, 0);
  t.is(pendingAsks(), 0);
  done();
});

test.serial('an ask without a reply times out with AskTimeoutError and is forgotten', async (t) => {
  const { ref, done } = echoActor('silent');
  await t.throwsAsync(ask(ref, (replyTo) => ({ type: 'Ignore' as const, replyTo }), 20), { instanceOf: AskTimeoutError });
  t.is(pendingAsks(), 0);
  done();
});

test('telling a stopped actor reports non-delivery and an ask to it rejects at once', async (t) => {
  const { ref, done } = echoActor('stopping');
  t.true(isAlive(ref as ActorRef<never>));
  await stop(ref as ActorRef<never>);
  t.false(isAlive(ref as ActorRef<never>));
  t.false(tell(ref, { type: 'Ignore', replyTo: { askId: -1 } as ReplyTo<number> }));
  await t.throwsAsync(ask(ref, (replyTo) => ({ type: 'Echo' as const, n: 1, replyTo }), 1_000), { instanceOf: ActorStoppedError });
  done();
});

test('a handler that returns no state crashes instead of silently resetting', async (t) => {
  const system = startSystem();
  const crashes: unknown[] = [];
  const ref = spawn<{ n: number }, Echo>(system, 'forgetful', (state, msg) => {
    reply(msg.replyTo, state.n);
    return (msg.type === 'Ignore' ? undefined : { n: state.n + 1 }) as { n: number };
  }, { initialState: { n: 0 }, onCrash: (error) => { crashes.push(error); return 'resume'; } });
  t.is(await ask(ref, (replyTo) => ({ type: 'Echo' as const, n: 0, replyTo }), 1_000), 0);
  t.is(await ask(ref, (replyTo) => ({ type: 'Ignore' as const, replyTo }), 1_000), 1);
  t.is(await ask(ref, (replyTo) => ({ type: 'Echo' as const, n: 0, replyTo }), 1_000), 1);
  t.true(crashes[0] instanceof TypeError);
  stopSystem(system);
});

test('refs are typed: sending another protocol does not compile', (t) => {
  const { ref, done } = echoActor('typed');
  // @ts-expect-error a message of another protocol is refused by the compiler
  const attempt = (): boolean => tell(ref, { type: 'Other' });
  t.is(typeof attempt, 'function');
  done();
});

test('a child stopped while its failing message runs does not take the process down, and its parent still hears of the error', async (t) => {
  // nact's escalate reads the child's parent, which `stop` deleted: without the facade's guard that is
  // a TypeError in an unawaited promise (an unhandled rejection: ava fails the file, the service dies).
  const system = startSystem();
  const heard: unknown[] = [];
  const parent = spawn<null, never>(system, 'parent', (state) => state, {
    initialState: null,
    onCrash: () => 'resume',
    onChildCrash: (_child, error) => { heard.push(error); return 'stopChild'; },
  });
  let started!: () => void;
  const running = new Promise<void>((resolve) => { started = resolve; });
  let fail!: () => void;
  const released = new Promise<void>((resolve) => { fail = resolve; });
  const child = spawn<null, { readonly type: 'Work' }>(parent, 'child', async () => {
    started();
    await released;
    throw new RangeError('failed after its stop');
  }, { initialState: null, onCrash: () => 'escalate' });
  tell(child, { type: 'Work' });
  await running;
  await stop(child as ActorRef<never>);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
  process.on('unhandledRejection', onUnhandled);
  fail();
  try {
    for (let i = 0; i < 50 && heard.length === 0 && unhandled.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  t.deepEqual(unhandled, []);
  t.is(heard.length, 1);
  t.true(heard[0] instanceof RangeError);
  stopSystem(system);
});
