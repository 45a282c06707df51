//! The service's life: check the configuration, bind everything, run the pipeline, reload on
//! SIGHUP, drain on SIGTERM/SIGINT (or when every finite source is done), write final metrics.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::{JsonValidation, LogFormat, RunArgs, ValidateArgs};
use crate::config::{self, Config};
use crate::dead_letter::DeadLetter;
use crate::error::CliError;
use crate::metrics::exposition::Format;
use crate::metrics::server::Endpoint;
use crate::metrics::{Metrics, Store, Telemetry};
use crate::pipeline;
use crate::sink::Sinks;
use crate::sink::enrich::Enricher;
use crate::source::{self, Context};
use crate::worker::{Forward, WorkerSettings};

/// `trailwatch validate`: checks a configuration exactly as start-up and reload do.
pub fn validate(args: &ValidateArgs) -> Result<(), CliError> {
    let run = RunArgs {
        config: args.config.clone(),
        aws_metric_filters: args.aws_metric_filters.clone(),
        // Sources are not the point here; this keeps the defaults from looking at stdin.
        metrics_addr: Some("none".into()),
        files: vec![".".into()],
        ..RunArgs::default()
    };
    let config = config::load(&run)?;
    let set = &config.filters.set;
    println!(
        "ok: {} filter(s) feeding {} metric(s)",
        set.len(),
        config.filters.families.len()
    );
    Ok(())
}

/// Runs the service until shutdown.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    init_logging(args.log_format);
    let config = config::load(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("trailwatch-io")
        .enable_all()
        .build()?;
    let result = runtime.block_on(serve(args, config));
    // Sources blocked on reads (stdin) must not hold the process open.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRAILWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> Result<TcpListener, CliError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot listen for {what} on {addr}: {e}")))
}

async fn serve(args: &RunArgs, config: Config) -> Result<(), CliError> {
    let telemetry = Arc::new(Telemetry::new());
    telemetry.reload(true);
    telemetry.register_families(&config.filters.families);
    telemetry.register_sigma(&config.filters.sigma);
    let store = Arc::new(Store::new(
        config.filters.clone(),
        config.metrics.max_series,
    ));
    let metrics = Arc::new(Metrics::new(telemetry.clone(), store.clone()));

    // Bind every listener before starting anything, so a taken port fails fast.
    let metrics_listener = match config.metrics.addr {
        Some(a) => Some(bind(a, "metrics").await?),
        None => None,
    };
    let mut tcp = Vec::new();
    for a in &config.sources.tcp {
        tcp.push(bind(*a, "TCP events").await?);
    }
    let mut http = Vec::new();
    for a in &config.sources.http {
        http.push(bind(*a, "HTTP events").await?);
    }

    let (dead_letter, dead_letter_thread) = match &config.pipeline.dead_letter {
        Some(p) => {
            let (dl, h) = DeadLetter::open(p, telemetry.clone()).map_err(|e| CliError::Io {
                path: Some(p.clone()),
                error: e,
            })?;
            (Some(dl), Some(h))
        }
        None => (None, None),
    };
    let ingest = &config.ingest;
    let settings = WorkerSettings {
        max_event_bytes: ingest.max_event_bytes,
        event_fields: ingest.event_fields.clone(),
        always_parse: ingest.json_validation == JsonValidation::Full,
    };
    let fwd = &config.forward;
    let sinks = if fwd.sinks.is_empty() {
        None
    } else {
        let sinks = Sinks::start(&fwd.sinks, &telemetry, dead_letter.as_ref())
            .map_err(CliError::Runtime)?;
        for s in &fwd.sinks {
            tracing::info!(sink = %s.name, kind = ?s.kind, disk_buffer = s.buffer.disk.is_some(), "forwarding events");
        }
        Some(Arc::new(sinks))
    };
    let forward = sinks.as_ref().map(|sinks| {
        let mut enricher = Enricher::new(&fwd.field, &fwd.static_fields, fwd.cloudtrail_fields);
        enricher.needs_time = sinks.needs_time;
        enricher.needs_id = sinks.needs_id;
        enricher.label_paths = sinks.label_paths.clone();
        Arc::new(Forward {
            enricher,
            sinks: sinks.clone(),
            matched_only: fwd.matched_only,
        })
    });
    let (admission, workers) = pipeline::start(
        config.pipeline.threads,
        config.pipeline.queue_bytes,
        &settings,
        &telemetry,
        &store,
        dead_letter.as_ref(),
        forward.as_ref(),
    )?;
    drop(forward);

    let shutdown = CancellationToken::new();
    let ctx = Context {
        admission: admission.clone(),
        telemetry: telemetry.clone(),
        dead_letter: dead_letter.clone(),
        max_event_bytes: ingest.max_event_bytes,
        shutdown: shutdown.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    drop(dead_letter);

    let refresh_admission = admission.clone();
    let endpoint = Arc::new(Endpoint {
        metrics: metrics.clone(),
        ready: std::sync::atomic::AtomicBool::new(false),
        refresh: Box::new(move || refresh_admission.refresh_gauges()),
    });
    let metrics_stop = CancellationToken::new();
    if let Some(l) = metrics_listener {
        let bound = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(addr = %bound, "serving /metrics");
        tokio::spawn(crate::metrics::server::serve(
            l,
            endpoint.clone(),
            metrics_stop.clone(),
        ));
    }

    // Network sources run until shutdown; finite sources end on their own.
    let network = TaskTracker::new();
    for (l, a) in tcp.into_iter().zip(&config.sources.tcp) {
        tracing::info!(addr = %l.local_addr().map_or_else(|_| a.to_string(), |x| x.to_string()), "accepting TCP events");
        network.spawn(source::tcp::serve(l, ctx.clone()));
    }
    let http_settings = source::http::Settings {
        max_body: ingest.http_max_body,
        token: ingest.http_token.clone(),
        wait_for_sinks: sinks.is_some(),
    };
    for (l, a) in http.into_iter().zip(&config.sources.http) {
        tracing::info!(addr = %l.local_addr().map_or_else(|_| a.to_string(), |x| x.to_string()), "accepting HTTP events");
        network.spawn(source::http::serve(l, ctx.clone(), http_settings.clone()));
    }
    network.close();
    let mut finite = Vec::new();
    if config.sources.stdin {
        finite.push(source::stdin::spawn(ctx.clone())?);
    }
    if !config.sources.files.is_empty() {
        let files = source::files::expand(&config.sources.files)
            .map_err(|e| CliError::Runtime(format!("--files: {e}")))?;
        tracing::info!(files = files.len(), "reading files");
        let threads = config.pipeline.threads.min(files.len().max(1));
        finite.extend(source::files::spawn(ctx.clone(), files, threads)?);
    }
    let finite_done = {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handles = finite;
        std::thread::Builder::new()
            .name("trailwatch-finite-sources".into())
            .spawn(move || {
                for h in handles {
                    let _ = h.join();
                }
                let _ = tx.send(());
            })?;
        rx
    };
    endpoint.ready.store(true, Ordering::Release);

    let reason = wait_for_end(args, &config, &store, &telemetry, finite_done).await;
    tracing::info!(reason, "shutting down: finishing accepted events");
    endpoint.ready.store(false, Ordering::Release);
    let deadline = Instant::now() + config.pipeline.shutdown_timeout;
    shutdown.cancel();
    drop(ctx);
    let drained = tokio::time::timeout_at(deadline.into(), async {
        network.wait().await;
        admission.close();
        tokio::task::spawn_blocking(move || workers.join())
            .await
            .ok();
    })
    .await;
    if let Some(sinks) = &sinks {
        // Workers are done: nothing more reaches the sinks; let them deliver what they hold.
        sinks.shutdown(deadline.into()).await;
    }
    metrics_stop.cancel();
    if let Some(out) = &config.metrics.out {
        write_metrics(out, &metrics)?;
    }
    if let Some(h) = dead_letter_thread {
        // Every sender is gone once the workers have exited; the writer flushes and ends.
        if drained.is_ok() {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
    match drained {
        Ok(()) => Ok(()),
        Err(_) => Err(CliError::Runtime(format!(
            "shutdown did not finish within {:?} (--shutdown-timeout); some accepted events were not processed",
            config.pipeline.shutdown_timeout
        ))),
    }
}

/// Waits for SIGTERM/SIGINT, or for the finite sources to end when there is no network source;
/// handles SIGHUP reloads meanwhile. Returns why it stopped.
async fn wait_for_end(
    args: &RunArgs,
    config: &Config,
    store: &Store,
    telemetry: &Telemetry,
    mut finite_done: tokio::sync::oneshot::Receiver<()>,
) -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let keep_running = config.sources.has_network();
    let mut finite_open = true;
    loop {
        tokio::select! {
            _ = async { term.as_mut()?.recv().await }, if term.is_some() => return "SIGTERM",
            _ = async { int.as_mut()?.recv().await }, if int.is_some() => return "SIGINT",
            _ = async { hup.as_mut()?.recv().await }, if hup.is_some() => reload(args, store, telemetry),
            _ = &mut finite_done, if finite_open => {
                finite_open = false;
                if !keep_running {
                    return "end of input";
                }
            }
        }
    }
}

/// Re-reads the configuration and filter files; on success swaps in the new filters (counters
/// of filters that remain keep their values), on failure keeps the old ones.
fn reload(args: &RunArgs, store: &Store, telemetry: &Telemetry) {
    match config::load(args) {
        Ok(c) => {
            let n = c.filters.set.len();
            telemetry.register_families(&c.filters.families);
            telemetry.register_sigma(&c.filters.sigma);
            store.install(c.filters);
            telemetry.reload(true);
            tracing::info!(filters = n, "reloaded filters");
        }
        Err(e) => {
            telemetry.reload(false);
            tracing::error!(error = %e, "reload failed; keeping the current filters");
        }
    }
}

fn write_metrics(path: &Path, metrics: &Metrics) -> Result<(), CliError> {
    let text = metrics.render(Format::Prometheus);
    let io = |error| CliError::Io {
        path: Some(path.to_owned()),
        error,
    };
    if path == Path::new("-") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(&text).and_then(|()| out.flush()).map_err(io)
    } else {
        std::fs::write(path, text).map_err(io)
    }
}
