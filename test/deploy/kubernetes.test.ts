import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml, loadAll } from 'js-yaml';
import { parseConfig } from '../../src/index.js';
import { startGateway } from '../helpers/gateway.js';
import { redisAvailable, startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The kustomize base in deploy/kubernetes, rendered by `kubectl kustomize`
 * where kubectl is installed; elsewhere (CI installs no kubectl) the same
 * objects are assembled from the files, and where both are possible they
 * must agree, so neither path checks something the other would not render.
 */
const BASE = fileURLToPath(new URL('../../../deploy/kubernetes/', import.meta.url));
const read = (file: string) => readFileSync(join(BASE, file), 'utf8');

interface Manifest { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [field: string]: unknown }
interface Kustomization {
  resources: string[];
  configMapGenerator: { name: string; files: string[]; options?: { labels?: Record<string, string>; disableNameSuffixHash?: boolean } }[];
  images: { name: string; newTag: string }[];
}
const kustomization = loadYaml(read('kustomization.yaml')) as Kustomization;

/** What kustomize renders from this base, assembled by hand: resources, the generated ConfigMap, the image tag. */
function assemble(): Manifest[] {
  // Any other transformer would be one this assembly does not apply.
  assert.deepEqual(Object.keys(kustomization).sort(), ['apiVersion', 'configMapGenerator', 'images', 'kind', 'resources']);
  const docs = kustomization.resources.flatMap((file) => loadAll(read(file)) as Manifest[]);
  for (const g of kustomization.configMapGenerator) {
    docs.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: g.name, ...(g.options?.labels ? { labels: g.options.labels } : {}) },
      data: Object.fromEntries(g.files.map((f) => [basename(f), read(f)])),
    });
  }
  for (const doc of docs) {
    const containers = ((doc.spec as Pod | undefined)?.template?.spec.containers ?? []) as Container[];
    for (const c of containers) {
      const image = kustomization.images.find((i) => i.name === c.image);
      if (image) c.image = `${image.name}:${image.newTag}`;
    }
  }
  return docs;
}

function kubectlRender(): Manifest[] | undefined {
  const run = spawnSync('kubectl', ['kustomize', BASE], { encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    console.error('\n*** kubectl not found: checking deploy/kubernetes assembled from its files, without `kubectl kustomize` ***\n');
    return undefined;
  }
  assert.equal(run.status, 0, `kubectl kustomize failed:\n${run.stderr}`);
  return loadAll(run.stdout) as Manifest[];
}

const byKindAndName = (a: Manifest, b: Manifest) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
const assembled = assemble().sort(byKindAndName);
const rendered = kubectlRender()?.sort(byKindAndName);
const objects = rendered ?? assembled;
const find = <T>(kind: string) => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as Manifest & T;
};

interface Probe { httpGet: { path: string; port: string | number } }
interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports: { name?: string; containerPort: number }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  volumeMounts: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
}
interface Pod {
  template?: {
    metadata: { labels: Record<string, string> };
    spec: {
      containers: Container[];
      securityContext?: Record<string, unknown>;
      terminationGracePeriodSeconds?: number;
      enableServiceLinks?: boolean;
      volumes: { name: string; configMap?: { name: string } }[];
    };
  };
}
type Deployment = { spec: Pod & { replicas?: number; selector: { matchLabels: Record<string, string> } } };

const deployment = find<Deployment>('Deployment');
const pod = deployment.spec.template as NonNullable<Pod['template']>;
const gateway = pod.spec.containers.find((c) => c.name === 'gateway') as Container;
const configMap = find<{ data: Record<string, string> }>('ConfigMap');
/** The file the gateway is started with (`serve --config PATH`). */
const configPath = (() => {
  assert.equal(gateway.args[0], 'serve');
  const at = gateway.args.indexOf('--config');
  assert.ok(at > 0, 'serve --config PATH');
  return gateway.args[at + 1] as string;
})();
/** The pod's environment as the gateway sees it, with a stand-in for each Secret value. */
const SECRET = '0123456789abcdef0123456789abcdef';
const podEnv = Object.fromEntries(gateway.env.map((e) => [e.name, e.value ?? (e.valueFrom?.secretKeyRef ? SECRET : '')]));
const configText = configMap.data[basename(configPath)] as string;
const config = parseConfig(configText, 'deploy/kubernetes/config.yaml', podEnv);
const subset = (labels: Record<string, string>, of: Record<string, string>) => Object.entries(labels).every(([k, v]) => of[k] === v);
const portOf = (port: string | number) => (typeof port === 'number' ? port : gateway.ports.find((p) => p.name === port)?.containerPort);

test('kubectl kustomize and the files assembled by hand give the same objects', () => {
  assert.deepEqual(
    assembled.map((o) => `${o.kind}/${o.metadata.name}`),
    ['ConfigMap/throttlegate-config', 'Deployment/throttlegate', 'HorizontalPodAutoscaler/throttlegate', 'PodDisruptionBudget/throttlegate', 'Service/throttlegate'],
  );
  if (rendered) assert.deepEqual(rendered, assembled);
});

test('the ConfigMap holds a config the gateway accepts with the pod environment, on Redis with the Secret password', () => {
  assert.equal(config.file, 'deploy/kubernetes/config.yaml');
  assert.equal(config.store.type, 'redis');
  assert.ok(config.store.redis);
  const url = new URL(config.store.redis.urls[0] as string);
  assert.equal(url.password, SECRET);
  const secret = loadYaml(read('secret.example.yaml')) as Manifest & { stringData: Record<string, string> };
  const refs = gateway.env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
  assert.deepEqual(refs, [{ name: secret.metadata.name, key: 'password' }]);
  assert.ok(secret.stringData.password, 'the example names the key');
  assert.ok(!kustomization.resources.includes('secret.example.yaml'), 'no placeholder password is applied with the base');
  // Service links would add REDIS_PORT=tcp://... and the like to the environment the config reads.
  assert.equal(pod.spec.enableServiceLinks, false);
});

test('readiness is /ready and liveness /health, both on the container port the config listens on', () => {
  assert.equal(gateway.readinessProbe.httpGet.path, '/ready');
  assert.equal(gateway.livenessProbe.httpGet.path, '/health');
  assert.equal(portOf(gateway.readinessProbe.httpGet.port), config.server.port);
  assert.equal(portOf(gateway.livenessProbe.httpGet.port), config.server.port);
  assert.equal(gateway.ports.length, 1);
  assert.equal((pod.metadata as { annotations?: Record<string, string> }).annotations?.['prometheus.io/port'], String(config.server.port));
});

test('the probe paths answer 200 on this config, and Redis with the Secret password makes the store ok', async (t) => {
  if (!redisAvailable()) return;
  const password = 'f00dfeedf00dfeedf00dfeedf00dfeed';
  const redis = await startRedis(['--requirepass', password]);
  t.after(() => redis.stop());
  const address = `127.0.0.1:${redis.port}`;
  const gw = await startGateway(configText, { env: { ...podEnv, REDIS_ADDRESS: address, REDIS_PASSWORD: password } });
  t.after(() => gw.close());
  assert.equal((await fetch(`${gw.url}/health`)).status, 200);
  const ready = await waitFor('/ready to report the store ok', async () => {
    const res = await fetch(`${gw.url}/ready`);
    const body = (await res.json()) as { status: string; store?: string };
    return res.status === 200 && body.store === 'ok' ? body : undefined;
  }, 5000);
  assert.equal(ready.status, 'ready');

  // A wrong password: on_error local keeps the pod ready (serving on local limits), the store degraded.
  const wrong = await startGateway(configText, { env: { ...podEnv, REDIS_ADDRESS: address, REDIS_PASSWORD: 'wrong' } });
  t.after(() => wrong.close());
  const res = await fetch(`${wrong.url}/ready`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ready', store: 'degraded' });
});

test('the pod runs as non-root, with a read-only root filesystem, no privilege escalation and no capabilities', () => {
  const podSecurity = pod.spec.securityContext ?? {};
  const sc = gateway.securityContext ?? {};
  assert.equal(sc.runAsNonRoot ?? podSecurity.runAsNonRoot, true);
  assert.notEqual(sc.runAsUser ?? podSecurity.runAsUser, 0);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.deepEqual(sc.capabilities?.drop, ['ALL']);
});

test('the ConfigMap is mounted as a directory (no subPath) where --config points, without a name hash', () => {
  const mount = gateway.volumeMounts.find((m) => m.mountPath === dirname(configPath));
  assert.ok(mount, `a volume at ${dirname(configPath)}`);
  // A subPath mount never sees a ConfigMap update; a directory sees the kubelet's `..data` swap.
  assert.equal(mount.subPath, undefined);
  assert.ok(gateway.volumeMounts.every((m) => m.subPath === undefined));
  assert.equal(mount.readOnly, true);
  const volume = pod.spec.volumes.find((v) => v.name === mount.name);
  assert.equal(volume?.configMap?.name, configMap.metadata.name);
  assert.ok(configMap.data[basename(configPath)], `the ConfigMap has ${basename(configPath)}`);
  // With a hash suffix every edit is a new ConfigMap and a rollout; without, the same one is updated in place.
  assert.ok(kustomization.configMapGenerator.every((g) => g.options?.disableNameSuffixHash === true));
});

test('resources have requests and limits for CPU and memory', () => {
  for (const kind of ['requests', 'limits'] as const) {
    for (const resource of ['cpu', 'memory']) assert.ok(gateway.resources[kind]?.[resource], `${kind}.${resource}`);
  }
});

test('a stopping pod leaves the endpoints first, then drains within shutdown_grace_ms, before the kubelet kills it', () => {
  const preStop = gateway.lifecycle?.preStop;
  const command = preStop?.exec?.command ?? [];
  const sleepSeconds = preStop?.sleep?.seconds ?? (command[0] === 'sleep' ? Number(command[1]) : NaN);
  assert.ok(sleepSeconds >= 3, `a preStop sleep (got ${JSON.stringify(preStop)})`);
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  assert.ok(grace > sleepSeconds + config.server.shutdownGraceMs / 1000, `terminationGracePeriodSeconds ${grace} > ${sleepSeconds} + ${config.server.shutdownGraceMs / 1000}`);
});

test('the Service, the PodDisruptionBudget and the Deployment select the pods; the image is the one `images:` retags', () => {
  const labels = pod.metadata.labels;
  assert.ok(subset(deployment.spec.selector.matchLabels, labels));
  const service = find<{ spec: { selector: Record<string, string>; ports: { targetPort: string | number }[] } }>('Service');
  assert.ok(subset(service.spec.selector, labels));
  assert.equal(portOf(service.spec.ports[0]?.targetPort as string | number), config.server.port);
  const pdb = find<{ spec: { minAvailable?: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget');
  assert.equal(pdb.apiVersion, 'policy/v1');
  assert.ok(Object.keys(pdb.spec.selector.matchLabels).length > 0);
  assert.ok(subset(pdb.spec.selector.matchLabels, labels), 'the PDB selects the Deployment\'s pods');
  assert.equal(gateway.image, `${kustomization.images[0]?.name}:${kustomization.images[0]?.newTag}`);
});

test('the HorizontalPodAutoscaler scales the Deployment on CPU, never below what the PDB keeps plus one', () => {
  const hpa = find<{ spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: { type: string; resource?: { name: string } }[] } }>('HorizontalPodAutoscaler');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  assert.ok(hpa.spec.metrics.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'));
  const pdb = find<{ spec: { minAvailable: number } }>('PodDisruptionBudget');
  assert.ok(hpa.spec.minReplicas > pdb.spec.minAvailable, 'a node drain can always evict one pod');
  assert.ok(hpa.spec.maxReplicas >= hpa.spec.minReplicas);
  // The autoscaler owns the count: a replicas field would be reset by every apply.
  assert.equal(deployment.spec.replicas, undefined);
});
