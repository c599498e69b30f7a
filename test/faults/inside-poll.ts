/**
 * The faults suite's poller for a silent link, run INSIDE a test server's network namespace
 * (`nsenter --net=/run/netns/<server> node --import tsx inside-poll.ts <server> <host>`): the
 * app's users there reach the proxy without crossing the link the suite drops, so what it sees
 * is the app's own health, not the link's. It polls until its stdin closes, then prints what it
 * saw as one JSON line.
 */
import { pollVia } from '../helpers/proxy-poll';

const [on, host] = process.argv.slice(2);
if (!on || !host) throw new Error('usage: inside-poll.ts SERVER HOST');
const p = pollVia(on, host);
process.stdout.write('polling\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void p.stop().then((r) => process.stdout.write(`${JSON.stringify({ ...r, commits: [...r.commits] })}\n`));
});
