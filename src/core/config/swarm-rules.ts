/**
 * The rules of "swarm" JSON Schema cannot express: the manager and the nodes must be servers of
 * the file, and what a Swarm service cannot do here is refused before anything connects. Each
 * problem is placed on the value it is about.
 */
import type { RawConfig } from './raw';

type Add = (pointer: string, text: string) => void;

export function swarmProblems(raw: RawConfig, add: Add): void {
  const s = raw.swarm;
  if (!s) return;
  const servers = Object.keys(raw.servers);
  const known = `known servers: ${servers.join(', ')}`;
  if (!servers.includes(s.manager)) add('/swarm/manager', `swarm.manager "${s.manager}" is not one of the servers; ${known}`);
  (s.nodes ?? []).forEach((n, i) => {
    if (!servers.includes(n)) add(`/swarm/nodes/${i}`, `swarm.nodes[${i}] "${n}" is not one of the servers; ${known}`);
  });
  // Swarm publishes the ports and moves the traffic itself: the per-server proxy has no part in it.
  if (raw.proxy) add('/proxy', 'proxy routes to one container per server, and with "swarm" Swarm runs the tasks and publishes run.ports itself: remove proxy (or swarm)');
  if (raw.roles) add('/roles', 'roles run several containers per server, and with "swarm" the app is one Swarm service: remove roles (or swarm)');
  // The one image is built here and sent to every node; a node's own build would differ per node.
  if (raw.build?.on === 'server') add('/build/on', 'build.on "server" builds on one server, and a swarm needs the same image on every node: remove build.on (it then builds on this machine and sends the image to each node)');
  if (raw.run?.release) add('/run/release', 'run.release runs once before traffic moves, and Swarm moves the traffic itself task by task: remove run.release and run migrations from the app\'s start');
  const nodes = new Set([s.manager, ...(s.nodes ?? servers)]);
  const replicas = s.replicas ?? 2;
  if (s.publish === 'host' && (raw.run?.ports ?? []).length && replicas >= nodes.size) {
    add(s.replicas === undefined ? '/swarm' : '/swarm/replicas', `swarm.replicas ${replicas} leaves no node free for a new task: with "publish": "host" a node holds run.ports for one task, and Swarm starts each new task before it stops an old one; set replicas to at most ${nodes.size - 1} or add a node`);
  }
}
