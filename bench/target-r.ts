import { runTracingGateway } from './targets.js';

/** (r) the gateway of (b) with tracing on at sample_ratio 0.01, exporting to the bench's OTLP sink (argv[3]). */
runTracingGateway('target-r.js', Number(process.env.BENCH_TRACE_RATIO ?? 0.01));
