/** Prometheus metrics of the daemon (prom-client), one registry per daemon so tests stay isolated. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface SyncMetrics {
  registry: Registry;
  uploads: Counter<'folder' | 'kind'>;
  uploadBytes: Counter<'folder'>;
  deletes: Counter<'folder'>;
  failures: Counter<'folder' | 'kind'>;
  retries: Counter<'method' | 'reason'>;
  queueDepth: Gauge<'folder'>;
  filesTracked: Gauge<'folder'>;
  heldDeletes: Gauge<'folder'>;
  /** Delete queue by state: waiting (retention) or due (to be sent, or held). */
  deleteQueue: Gauge<'folder' | 'state'>;
  suspects: Gauge<'folder'>;
  changeToUploadSeconds: Histogram<'folder'>;
  reconcileSeconds: Histogram<'folder'>;
  breakerOpen: Gauge;
  uploadsPaused: Gauge;
  degraded: Gauge;
}

/** Creates the daemon's metrics in a fresh registry (with Node's default process metrics). */
export function createMetrics(): SyncMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'files_sync_' });
  const registers = [registry];
  return {
    registry,
    uploads: new Counter({
      name: 'files_sync_uploads_total',
      help: 'Files uploaded (new, replaced, re-uploaded, adopted).',
      labelNames: ['folder', 'kind'],
      registers,
    }),
    uploadBytes: new Counter({
      name: 'files_sync_upload_bytes_total',
      help: 'Bytes uploaded.',
      labelNames: ['folder'],
      registers,
    }),
    deletes: new Counter({
      name: 'files_sync_deletes_total',
      help: 'Remote files deleted.',
      labelNames: ['folder'],
      registers,
    }),
    failures: new Counter({
      name: 'files_sync_failures_total',
      help: 'Operations that failed (retried later).',
      labelNames: ['folder', 'kind'],
      registers,
    }),
    retries: new Counter({
      name: 'files_sync_api_retries_total',
      help: 'API requests retried.',
      labelNames: ['method', 'reason'],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'files_sync_queue_depth',
      help: 'Paths waiting to be synced.',
      labelNames: ['folder'],
      registers,
    }),
    filesTracked: new Gauge({
      name: 'files_sync_files_tracked',
      help: 'Paths in the manifest.',
      labelNames: ['folder'],
      registers,
    }),
    heldDeletes: new Gauge({
      name: 'files_sync_held_deletes',
      help: 'Deletes held by the safety guard.',
      labelNames: ['folder'],
      registers,
    }),
    deleteQueue: new Gauge({
      name: 'files_sync_delete_queue',
      help: 'Remote deletes queued: "waiting" for their retention time, "due" to be sent (or held).',
      labelNames: ['folder', 'state'],
      registers,
    }),
    suspects: new Gauge({
      name: 'files_sync_suspects',
      help: 'Remote files that may be ours but cannot be proven so (see files-sync verify).',
      labelNames: ['folder'],
      registers,
    }),
    changeToUploadSeconds: new Histogram({
      name: 'files_sync_change_to_upload_seconds',
      help: 'From the first file-system event of a change to its upload being recorded.',
      labelNames: ['folder'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: 'files_sync_reconcile_seconds',
      help: 'Duration of full reconciliations.',
      labelNames: ['folder'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900],
      registers,
    }),
    breakerOpen: new Gauge({
      name: 'files_sync_api_breaker_open',
      help: '1 while the API circuit breaker is open (every request failed the same way; only probes are sent).',
      registers,
    }),
    uploadsPaused: new Gauge({
      name: 'files_sync_uploads_paused',
      help: '1 while uploads are paused because the storage quota is exceeded.',
      registers,
    }),
    degraded: new Gauge({
      name: 'files_sync_degraded',
      help: '1 while /healthz answers 503 (API failing, key refused, storage full, a folder root missing).',
      registers,
    }),
  };
}
