//! What the service has been doing, for `GET /metrics` on the admin port: counters and histograms
//! kept in this process's memory as requests, mails and hashes happen (a scrape runs no query), in
//! the Prometheus project's text format (OpenMetrics). Labels are routes, methods, statuses,
//! result codes and purposes: never a name, an address or a client's IP.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::mail::{MailOutcome, Watch};
use latchkey_core::store::PoolUse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    /// `password` (the sign-in form) or `second_factor` (its code).
    step: &'static str,
    /// `ok`, or the answer's error code.
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurposeLabels {
    purpose: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabels {
    /// A code's purpose, or `notice`.
    letter: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn request_seconds() -> Histogram {
    // 1 ms to about 8 s: a who-am-i, a hash, a slow mail server.
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

fn wait_seconds() -> Histogram {
    // 0.5 ms to about 4 s: no wait, a few hashes ahead, a full queue.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Histograms<RouteLabels>,
    logins: Family<LoginLabels, Counter>,
    codes_sent: Family<PurposeLabels, Counter>,
    mail_failures: Family<MailLabels, Counter>,
    rate_limited: Family<ReasonLabels, Counter>,
    argon2_queue: Gauge,
    argon2_places: Family<StateLabels, Gauge>,
    argon2_wait: Histogram,
    db_connections: Family<StateLabels, Gauge>,
    db_connections_max: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(request_seconds),
            logins: Family::default(),
            codes_sent: Family::default(),
            mail_failures: Family::default(),
            rate_limited: Family::default(),
            argon2_queue: Gauge::default(),
            argon2_places: Family::default(),
            argon2_wait: wait_seconds(),
            db_connections: Family::default(),
            db_connections_max: Gauge::default(),
        };
        registry.register("http_requests", "HTTP requests answered, by route, method and status", m.requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route and method",
            m.request_seconds.clone(),
        );
        registry.register("logins", "Sign-in attempts by step and result (ok or the error code)", m.logins.clone());
        registry.register("codes_sent", "Emailed codes sent, by purpose", m.codes_sent.clone());
        registry.register("mail_failures", "Mails that could not be sent, by letter", m.mail_failures.clone());
        registry.register(
            "rate_limited_requests",
            "Requests answered 429, by reason (the error code)",
            m.rate_limited.clone(),
        );
        registry.register("argon2_queue_length", "Argon2 jobs waiting for a thread", m.argon2_queue.clone());
        registry.register(
            "argon2_queue_places",
            "Places in argon2's queue: taken (requests admitted to hash) and bound",
            m.argon2_places.clone(),
        );
        registry.register("argon2_wait_seconds", "Time an argon2 job waited for a thread", m.argon2_wait.clone());
        registry.register("db_connections", "Database pool connections: in use and idle", m.db_connections.clone());
        registry.register("db_connections_max", "The database pool's most connections", m.db_connections_max.clone());
        Metrics { registry, ..m }
    }

    /// One answered request on the public port. `route` is the route's pattern (`unmatched`
    /// when none matched); `code` the answer's error code, if it is an error.
    pub fn request(&self, route: &str, method: &str, status: u16, code: Option<&str>, took: Duration) {
        self.requests.get_or_create(&RequestLabels { route: route.into(), method: method.into(), status }).inc();
        self.request_seconds
            .get_or_create(&RouteLabels { route: route.into(), method: method.into() })
            .observe(took.as_secs_f64());
        let step = match route {
            latchkey_core::wire::path::LOGIN => Some("password"),
            latchkey_core::wire::path::LOGIN_SECOND_FACTOR => Some("second_factor"),
            _ => None,
        };
        let result = match code {
            Some(code) => code.to_string(),
            None if (200..300).contains(&status) => "ok".to_string(),
            None => format!("status_{status}"),
        };
        if status == 429 {
            self.rate_limited.get_or_create(&ReasonLabels { reason: result.clone() }).inc();
        }
        if let Some(step) = step {
            self.logins.get_or_create(&LoginLabels { step, result }).inc();
        }
    }

    /// For the mailer: counts codes sent and mails that failed.
    pub fn mail_watch(self: &Arc<Self>) -> Watch {
        let metrics = self.clone();
        Arc::new(move |outcome: MailOutcome| {
            if !outcome.delivered {
                let letter = outcome.code.map_or("notice", |p| p.name());
                metrics.mail_failures.get_or_create(&MailLabels { letter }).inc();
            } else if let Some(purpose) = outcome.code {
                metrics.codes_sent.get_or_create(&PurposeLabels { purpose: purpose.name() }).inc();
            }
        })
    }

    /// For argon2's threads: how long each job waited.
    pub fn wait_watch(self: &Arc<Self>) -> latchkey_core::auth::secret::WaitWatch {
        let metrics = self.clone();
        Arc::new(move |waited: Duration| metrics.argon2_wait.observe(waited.as_secs_f64()))
    }

    /// The text a scrape gets: the gauges read now, the counters as they are.
    pub fn render(&self, pool: PoolUse) -> Result<String, std::fmt::Error> {
        use latchkey_core::auth::secret;
        self.argon2_queue.set(gauge(secret::queue_length()));
        let (taken, bound) = secret::queue_places();
        self.argon2_places.get_or_create(&StateLabels { state: "taken" }).set(gauge(taken));
        self.argon2_places.get_or_create(&StateLabels { state: "bound" }).set(gauge(bound));
        let in_use = pool.open.saturating_sub(pool.idle);
        self.db_connections.get_or_create(&StateLabels { state: "in_use" }).set(i64::from(in_use));
        self.db_connections.get_or_create(&StateLabels { state: "idle" }).set(i64::from(pool.idle));
        self.db_connections_max.set(i64::from(pool.max));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
