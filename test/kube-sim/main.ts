/**
 * npm run -s kube-sim -- [--port N] [--version 1.33.0] [--time-scale 0.2] [--real-containers]
 *                     [--addons cert-manager,gke,gateway-api | --bare] [--observe-delay-ms 200]
 *                     [--verbose]
 *
 * Runs the simulator until SIGINT/SIGTERM. stdout: the kubeconfig path only; stderr: how to
 * use it. See README.md.
 */
import { parseArgs } from 'node:util';
import { startKubeSim } from './index.js';
import { type Addon, ALL_ADDONS } from './resources.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    version: { type: 'string', default: '1.33.0' },
    'time-scale': { type: 'string', default: '1' },
    'real-containers': { type: 'boolean', default: false },
    addons: { type: 'string' },
    bare: { type: 'boolean', default: false },
    'observe-delay-ms': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

const addons = (values.addons ?? (values.bare ? '' : ALL_ADDONS.join(',')))
  .split(',')
  .map((a) => a.trim())
  .filter(Boolean) as Addon[];
for (const a of addons) {
  if (!ALL_ADDONS.includes(a)) {
    console.error(`unknown add-on "${a}" (known: ${ALL_ADDONS.join(', ')})`);
    process.exit(2);
  }
}

const sim = await startKubeSim({
  port: Number(values.port),
  kubernetesVersion: values.version,
  timeScale: Number(values['time-scale']),
  realContainers: values['real-containers'],
  addons,
  ...(values['observe-delay-ms'] !== undefined ? { observeDelayMs: Number(values['observe-delay-ms']) } : {}),
  ...(values.verbose ? { log: (line: string) => console.error(line) } : {}),
});

console.log(sim.kubeconfigPath);
console.error(`kube-sim: API on ${sim.url}, Kubernetes ${values.version}`);
console.error(`kube-sim: export KUBECONFIG=${sim.kubeconfigPath}`);
console.error('kube-sim: Ctrl-C stops it');

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.error(`kube-sim: ${signal}, stopping`);
  sim.stop().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
