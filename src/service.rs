//! The service's life in three steps: [`Service::build`] (check, bind every listener, open the
//! sinks and the dead letter, start the workers), [`Service::start`] (serve /metrics, start the
//! sources), and [`Running::drain`] (stop accepting, finish what was accepted, deliver what the
//! sinks hold, write final metrics). In between, [`Running::wait`] reloads on SIGHUP and waits
//! for SIGTERM/SIGINT or the end of every finite source.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::anomaly::Anomalies;
use crate::cli::{LogFormat, RunArgs, ValidateArgs};
use crate::config::{self, Config, ConfigError, JsonValidation, Overrides, Sources};
use crate::dead_letter::DeadLetter;
use crate::error::{CliError, ServiceError};
use crate::metrics::exposition::Format;
use crate::metrics::server::Endpoint;
use crate::metrics::{Metrics, Store, Telemetry};
use crate::pipeline::{self, Admission, Workers};
use crate::sink::Sinks;
use crate::sink::enrich::Enricher;
use crate::source::{self, Context};
use crate::worker::{Forward, WorkerSettings};

/// `trailwatch validate`: checks a configuration exactly as start-up and reload do.
pub fn validate(args: &ValidateArgs) -> Result<(), CliError> {
    let flags = Overrides {
        aws_metric_filters: args.aws_metric_filters.clone(),
        ..Overrides::default()
    };
    let config = config::load(args.config.as_deref(), &flags)?;
    let set = &config.filters.set;
    println!(
        "ok: {} filter(s) feeding {} metric(s)",
        set.len(),
        config.filters.families.len()
    );
    Ok(())
}

/// `trailwatch filters`: the active filters as `describe-metric-filters` JSON on stdout.
pub fn filters(args: &ValidateArgs) -> Result<(), CliError> {
    let flags = Overrides {
        aws_metric_filters: args.aws_metric_filters.clone(),
        ..Overrides::default()
    };
    let config = config::load(args.config.as_deref(), &flags)?;
    println!(
        "{}",
        config::describe::metric_filters(&config.filters.specs)
    );
    Ok(())
}

/// Runs the service until shutdown.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    init_logging(args.log_format);
    let origin = Origin {
        file: args.config.clone(),
        flags: args.overrides(),
    };
    let mut config = origin.load()?;
    if config.sources.is_empty() {
        config.sources = Sources::defaults(std::io::stdin().is_terminal());
    }
    serve(&origin, config)
}

/// `trailwatch learn`: runs the archives through the detectors (nothing else: no metrics
/// endpoint, no forwarding, no records) and leaves the state file.
pub fn learn(args: &crate::cli::LearnArgs) -> Result<(), CliError> {
    init_logging(LogFormat::Text);
    let origin = Origin {
        file: args.config.clone(),
        flags: Overrides {
            files: args.files.clone(),
            threads: args.threads,
            metrics_addr: Some("none".into()),
            anomalies: crate::anomaly::settings::AnomalyFlags {
                out: None,
                state_file: args.state.clone(),
                learn_only: true,
            },
            ..Overrides::default()
        },
    };
    let mut config = origin.load()?;
    let has_state = config
        .anomalies
        .as_ref()
        .is_some_and(|a| a.state_file.is_some());
    if !has_state {
        return Err(CliError::Usage(
            "learn needs a state file: --state FILE, or state_file in [anomalies]".into(),
        ));
    }
    config.forward.sinks.clear();
    config.metrics.out = None;
    config.sources = Sources {
        stdin: false,
        tcp: Vec::new(),
        http: Vec::new(),
        fluent: Vec::new(),
        files: args.files.clone(),
    };
    serve(&origin, config)
}

fn serve(origin: &Origin, config: Config) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("trailwatch-io")
        .enable_all()
        .build()
        .map_err(ServiceError::Threads)?;
    let result = runtime.block_on(async {
        let mut running = Service::build(config).await?.start()?;
        let reason = running.wait(origin).await;
        running.drain(reason).await
    });
    // Sources blocked on reads (stdin) must not hold the process open.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result.map_err(CliError::from)
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

/// Where the configuration comes from, to load it again on SIGHUP.
#[derive(Clone)]
struct Origin {
    file: Option<PathBuf>,
    flags: Overrides,
}

impl Origin {
    fn load(&self) -> Result<Config, ConfigError> {
        config::load(self.file.as_deref(), &self.flags)
    }
}

async fn bind(addr: SocketAddr, what: &'static str) -> Result<TcpListener, ServiceError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Bind { what, addr, source })
}

/// Everything bound and opened; nothing accepts input yet.
pub struct Service {
    config: Config,
    telemetry: Arc<Telemetry>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    metrics_listener: Option<TcpListener>,
    tcp: Vec<TcpListener>,
    http: Vec<TcpListener>,
    fluent: Vec<TcpListener>,
    dead_letter: Option<DeadLetter>,
    dead_letter_thread: Option<JoinHandle<()>>,
    sinks: Option<Arc<Sinks>>,
    anomalies: Option<Arc<Anomalies>>,
    admission: Admission,
    workers: Workers,
}

impl Service {
    /// Binds every listener first (so a taken port fails fast), then opens the dead letter and
    /// the sinks (disk buffers recover) and starts the workers.
    pub async fn build(config: Config) -> Result<Service, ServiceError> {
        let telemetry = Arc::new(Telemetry::new());
        telemetry.reload(true);
        telemetry.register_families(&config.filters.families);
        telemetry.register_sigma(&config.filters.sigma);
        let store = Arc::new(Store::new(
            config.filters.clone(),
            config.metrics.max_series,
        ));
        store.trail.enable(config.trail_health.is_some());
        let metrics = Arc::new(Metrics::new(telemetry.clone(), store.clone()));
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
        let mut fluent = Vec::new();
        for a in &config.sources.fluent {
            fluent.push(bind(*a, "Forward protocol events").await?);
        }
        let (dead_letter, dead_letter_thread) = match &config.pipeline.dead_letter {
            Some(path) => {
                let (dl, h) = DeadLetter::open(path, telemetry.clone()).map_err(|source| {
                    ServiceError::DeadLetter {
                        path: path.clone(),
                        source,
                    }
                })?;
                (Some(dl), Some(h))
            }
            None => (None, None),
        };
        let fwd = &config.forward;
        let sinks = if fwd.sinks.is_empty() {
            None
        } else {
            let sinks = Sinks::start(&fwd.sinks, &telemetry, dead_letter.as_ref())?;
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
        let anomalies = match &config.anomalies {
            Some(a) => Some(start_anomalies(a, &telemetry, dead_letter.as_ref())?),
            None => None,
        };
        let ingest = &config.ingest;
        let settings = WorkerSettings {
            max_event_bytes: ingest.max_event_bytes,
            event_fields: ingest.event_fields.clone(),
            always_parse: ingest.json_validation == JsonValidation::Full,
        };
        let (admission, workers) = pipeline::start(
            config.pipeline.threads,
            config.pipeline.queue_bytes,
            &pipeline::Shared {
                settings: &settings,
                telemetry: &telemetry,
                store: &store,
                dead_letter: dead_letter.as_ref(),
                forward: forward.as_ref(),
                anomalies: anomalies.as_ref(),
            },
        )
        .map_err(ServiceError::Threads)?;
        Ok(Service {
            config,
            telemetry,
            store,
            metrics,
            metrics_listener,
            tcp,
            http,
            fluent,
            dead_letter,
            dead_letter_thread,
            sinks,
            anomalies,
            admission,
            workers,
        })
    }

    /// Serves /metrics and starts every source.
    pub fn start(self) -> Result<Running, ServiceError> {
        let Service {
            config,
            telemetry,
            store,
            metrics,
            metrics_listener,
            tcp,
            http,
            fluent,
            dead_letter,
            dead_letter_thread,
            sinks,
            anomalies,
            admission,
            workers,
        } = self;
        let snapshots = match &anomalies {
            Some(a) => Some(Snapshots::start(a.clone(), &config).map_err(ServiceError::Threads)?),
            None => None,
        };
        let shutdown = CancellationToken::new();
        let ctx = Context {
            admission: admission.clone(),
            telemetry: telemetry.clone(),
            dead_letter,
            max_event_bytes: config.ingest.max_event_bytes,
            shutdown: shutdown.clone(),
            runtime: tokio::runtime::Handle::current(),
        };
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
        let shown = |l: &TcpListener, a: &SocketAddr| {
            l.local_addr()
                .map_or_else(|_| a.to_string(), |x| x.to_string())
        };
        for (l, a) in tcp.into_iter().zip(&config.sources.tcp) {
            tracing::info!(addr = %shown(&l, a), "accepting TCP events");
            network.spawn(source::tcp::serve(l, ctx.clone()));
        }
        let http_settings = source::http::Settings {
            max_body: config.ingest.http_max_body,
            token: config.ingest.http_token.clone(),
        };
        for (l, a) in http.into_iter().zip(&config.sources.http) {
            tracing::info!(addr = %shown(&l, a), "accepting HTTP events");
            network.spawn(source::http::serve(l, ctx.clone(), http_settings.clone()));
        }
        let fluent_settings = source::fluent::Settings {
            fluent: config.ingest.fluent.clone(),
            max_message: config.ingest.http_max_body,
        };
        for (l, a) in fluent.into_iter().zip(&config.sources.fluent) {
            tracing::info!(addr = %shown(&l, a), "accepting Forward protocol events");
            network.spawn(source::fluent::serve(
                l,
                ctx.clone(),
                fluent_settings.clone(),
            ));
        }
        network.close();
        let mut finite = Vec::new();
        if config.sources.stdin {
            finite.push(source::stdin::spawn(ctx.clone()).map_err(ServiceError::Threads)?);
        }
        if !config.sources.files.is_empty() {
            let files =
                source::files::expand(&config.sources.files).map_err(ServiceError::Files)?;
            tracing::info!(files = files.len(), "reading files");
            let threads = config.pipeline.threads.min(files.len().max(1));
            finite.extend(
                source::files::spawn(ctx.clone(), files, threads).map_err(ServiceError::Threads)?,
            );
        }
        let (finite_tx, finite_done) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("trailwatch-finite-sources".into())
            .spawn(move || {
                for h in finite {
                    let _ = h.join();
                }
                let _ = finite_tx.send(());
            })
            .map_err(ServiceError::Threads)?;
        endpoint.ready.store(true, Ordering::Release);
        Ok(Running {
            config,
            telemetry,
            store,
            metrics,
            endpoint,
            metrics_stop,
            shutdown,
            ctx,
            network,
            finite_done: Some(finite_done),
            admission,
            workers,
            sinks,
            anomalies,
            snapshots,
            dead_letter_thread,
        })
    }
}

/// Opens the anomaly sinks and restores the detectors' state.
fn start_anomalies(
    settings: &crate::anomaly::AnomalySettings,
    telemetry: &Arc<Telemetry>,
    dead_letter: Option<&DeadLetter>,
) -> Result<Arc<Anomalies>, ServiceError> {
    let metrics = crate::anomaly::AnomalyMetrics::register(telemetry);
    let sinks = if settings.sinks.is_empty() {
        None
    } else {
        for s in &settings.sinks {
            tracing::info!(sink = %s.name, kind = ?s.kind, "writing anomaly records");
        }
        Some(Arc::new(Sinks::start(
            &settings.sinks,
            telemetry,
            dead_letter,
        )?))
    };
    let detector = crate::anomaly::restore(settings.clone())?;
    tracing::info!(
        detectors = settings.detectors.len(),
        state_file = ?settings.state_file,
        learn_only = settings.learn_only,
        "detecting anomalies"
    );
    Ok(Arc::new(Anomalies::new(detector, sinks, metrics)))
}

/// The thread that snapshots the anomaly state on an interval.
struct Snapshots {
    stop: std::sync::mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Snapshots {
    fn start(anomalies: Arc<Anomalies>, config: &Config) -> std::io::Result<Snapshots> {
        let interval = config
            .anomalies
            .as_ref()
            .map_or(Duration::from_secs(60), |a| a.snapshot_interval);
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("trailwatch-anomaly-state".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(interval)
                {
                    if let Err(e) = anomalies.save() {
                        tracing::error!(error = %e, "cannot snapshot the anomaly state");
                    }
                }
            })?;
        Ok(Snapshots { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// A started service.
pub struct Running {
    config: Config,
    telemetry: Arc<Telemetry>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    endpoint: Arc<Endpoint>,
    metrics_stop: CancellationToken,
    shutdown: CancellationToken,
    /// The sources' context; dropped at drain, so the dead letter's senders go with it.
    ctx: Context,
    network: TaskTracker,
    /// Resolves when every finite source (stdin, files) has ended.
    finite_done: Option<tokio::sync::oneshot::Receiver<()>>,
    admission: Admission,
    workers: Workers,
    sinks: Option<Arc<Sinks>>,
    anomalies: Option<Arc<Anomalies>>,
    snapshots: Option<Snapshots>,
    dead_letter_thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Waits for SIGTERM/SIGINT, or for the finite sources to end when there is no network
    /// source; reloads the filters on SIGHUP meanwhile. Returns why it stopped.
    async fn wait(&mut self, origin: &Origin) -> &'static str {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        let keep_running = self.config.sources.has_network();
        let mut finite_done = self.finite_done.take();
        loop {
            tokio::select! {
                _ = async { term.as_mut()?.recv().await }, if term.is_some() => return "SIGTERM",
                _ = async { int.as_mut()?.recv().await }, if int.is_some() => return "SIGINT",
                _ = async { hup.as_mut()?.recv().await }, if hup.is_some() => self.reload(origin).await,
                _ = async { finite_done.as_mut()?.await.ok() }, if finite_done.is_some() => {
                    finite_done = None;
                    if !keep_running {
                        return "end of input";
                    }
                }
            }
        }
    }

    /// Re-reads the configuration and filter files; on success swaps in the new filters
    /// (counters of filters that remain keep their values), on failure keeps the old ones.
    /// Reading and compiling happen on a blocking thread, not on the runtime's.
    async fn reload(&self, origin: &Origin) {
        let origin = origin.clone();
        let loaded = tokio::task::spawn_blocking(move || origin.load())
            .await
            .unwrap_or_else(|e| Err(ConfigError::flag(format!("reload failed: {e}"))));
        match loaded {
            Ok(c) => {
                let n = c.filters.set.len();
                self.telemetry.register_families(&c.filters.families);
                self.telemetry.register_sigma(&c.filters.sigma);
                self.store.trail.enable(c.trail_health.is_some());
                self.store.install(c.filters);
                self.telemetry.reload(true);
                tracing::info!(filters = n, "reloaded filters");
            }
            Err(e) => {
                self.telemetry.reload(false);
                tracing::error!(error = %e, "reload failed; keeping the current filters");
            }
        }
    }

    /// Stops accepting input, finishes what was accepted, lets the sinks deliver what they
    /// hold and writes the final metrics, all within `--shutdown-timeout`.
    async fn drain(self, reason: &'static str) -> Result<(), ServiceError> {
        tracing::info!(reason, "shutting down: finishing accepted events");
        self.endpoint.ready.store(false, Ordering::Release);
        let timeout = self.config.pipeline.shutdown_timeout;
        let deadline = Instant::now() + timeout;
        self.shutdown.cancel();
        drop(self.ctx);
        let (network, admission, workers) = (self.network, self.admission, self.workers);
        let drained = tokio::time::timeout_at(deadline.into(), async move {
            network.wait().await;
            admission.close();
            tokio::task::spawn_blocking(move || workers.join())
                .await
                .ok();
        })
        .await;
        if let Some(s) = self.snapshots {
            let _ = tokio::task::spawn_blocking(move || s.stop()).await;
        }
        let mut state_saved = Ok(());
        if let Some(a) = &self.anomalies {
            // Workers are done (or the deadline passed): the last snapshot holds everything.
            let a = a.clone();
            state_saved = tokio::task::spawn_blocking(move || a.save())
                .await
                .unwrap_or(Ok(()));
            if let Some(sinks) = self.anomalies.as_ref().and_then(|a| a.sinks()) {
                sinks.shutdown(deadline.into()).await;
            }
        }
        if let Some(sinks) = &self.sinks {
            // Workers are done: nothing more reaches the sinks; let them deliver what they hold.
            sinks.shutdown(deadline.into()).await;
        }
        self.metrics_stop.cancel();
        if let Some(out) = &self.config.metrics.out {
            write_metrics(out, &self.metrics)?;
        }
        if let Some(h) = self.dead_letter_thread {
            // Every sender is gone once the workers have exited; the writer flushes and ends.
            if drained.is_ok() {
                let _ = tokio::task::spawn_blocking(move || h.join()).await;
            }
        }
        drained.map_err(|_| ServiceError::ShutdownTimeout(timeout))?;
        state_saved.map_err(ServiceError::from)
    }
}

fn write_metrics(path: &Path, metrics: &Metrics) -> Result<(), ServiceError> {
    let text = metrics.render(Format::Prometheus);
    let io = |source| ServiceError::MetricsOut {
        path: path.to_owned(),
        source,
    };
    if path == Path::new("-") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(&text).and_then(|()| out.flush()).map_err(io)
    } else {
        std::fs::write(path, text).map_err(io)
    }
}
