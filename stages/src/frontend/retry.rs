//! The retry policy of `fetch`: which failures are worth another attempt and
//! how long to wait before it.
//!
//! - Retried: connection failures and resets, timeouts (no response, or no
//!   data for `timeout_s` in the middle of a body), bodies cut short (fewer
//!   bytes than the server announced), HTTP 5xx, 408 and 429, and S3 or
//!   disk errors other than "not found" / "forbidden".
//! - Not retried (a per-track failure at once): HTTP 404, 403 and every other
//!   4xx, a missing file or S3 key, access denied, a malformed URI, and a
//!   checksum mismatch (the bytes arrived whole, as the transport checks
//!   above guarantee, but are not the ones the manifest names: the source
//!   changed, and asking again returns the same bytes).
//! - Waits: before retry `k` (k = 1, 2, ...) a uniformly random time in
//!   `[d/2, d]` with `d = backoff_ms * 2^(k-1)`, capped at [`MAX_BACKOFF`]
//!   ("equal jitter": spread out, never immediate). A `Retry-After` header
//!   of a 429 or 503 (in seconds) lengthens the wait to what the server
//!   asked, up to [`MAX_BACKOFF`].

use std::time::Duration;

/// The longest single wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    pub retry: bool,
    /// The server's `Retry-After`, if it gave one.
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn transient(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retry: true,
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retry: false,
            retry_after: None,
        }
    }
}

/// How many times to try and how long to wait in between.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts after the first.
    pub retries: u32,
    pub backoff: Duration,
}

impl Policy {
    /// The wait before retry `k` (1-based), with `unit` in [0, 1) the random
    /// draw (a parameter so that the bounds can be tested).
    pub fn wait(&self, k: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
        let doubling = 2f64.powi(k.saturating_sub(1).min(62) as i32);
        let full = (self.backoff.as_secs_f64() * doubling).min(MAX_BACKOFF.as_secs_f64());
        let jittered = full * (0.5 + 0.5 * unit.clamp(0.0, 1.0));
        let asked = retry_after.map_or(0.0, |d| d.as_secs_f64().min(MAX_BACKOFF.as_secs_f64()));
        Duration::from_secs_f64(jittered.max(asked))
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are
    /// spent; `sleep` waits (a parameter for tests). The last failure is
    /// returned (its `retry` still saying whether a later run could
    /// succeed), its message naming how many attempts were made when more
    /// than one was.
    pub fn run<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, Failure>,
        mut sleep: impl FnMut(Duration),
    ) -> Result<T, Failure> {
        let mut k = 0;
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(failure) if failure.retry && k < self.retries => {
                    k += 1;
                    sleep(self.wait(k, fastrand::f64(), failure.retry_after));
                }
                Err(failure) if k == 0 => return Err(failure),
                Err(mut failure) => {
                    failure.message = format!("{} (after {} attempts)", failure.message, k + 1);
                    return Err(failure);
                }
            }
        }
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn status_is_transient(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..600).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_and_a_cap() {
        let policy = Policy {
            retries: 10,
            backoff: Duration::from_millis(200),
        };
        assert_eq!(policy.wait(1, 0.0, None), Duration::from_millis(100));
        assert_eq!(policy.wait(1, 1.0, None), Duration::from_millis(200));
        assert_eq!(policy.wait(3, 1.0, None), Duration::from_millis(800));
        let mid = policy.wait(2, 0.5, None);
        assert!(mid > Duration::from_millis(200) && mid < Duration::from_millis(400));
        assert_eq!(policy.wait(40, 1.0, None), MAX_BACKOFF);
        assert_eq!(
            policy.wait(1, 0.0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.wait(1, 0.0, Some(Duration::from_secs(3600))),
            MAX_BACKOFF
        );
    }

    #[test]
    fn retries_transient_failures_only() {
        let policy = Policy {
            retries: 3,
            backoff: Duration::from_millis(10),
        };
        let mut waits = Vec::new();
        let mut calls = 0;
        let got = policy.run(
            || {
                calls += 1;
                if calls < 3 {
                    Err(Failure::transient("HTTP 503"))
                } else {
                    Ok(calls)
                }
            },
            |d| waits.push(d),
        );
        assert_eq!(got, Ok(3));
        assert_eq!(waits.len(), 2);
        assert!(waits[0] >= Duration::from_millis(5) && waits[0] <= Duration::from_millis(10));
        assert!(waits[1] >= Duration::from_millis(10) && waits[1] <= Duration::from_millis(20));

        let mut calls = 0;
        let got: Result<(), _> = policy.run(
            || {
                calls += 1;
                Err(Failure::permanent("HTTP 404 Not Found"))
            },
            |_| {},
        );
        assert_eq!(got, Err(Failure::permanent("HTTP 404 Not Found")));
        assert_eq!(calls, 1);

        let mut calls = 0;
        let got: Result<(), _> = policy.run(
            || {
                calls += 1;
                Err(Failure::transient("connection reset"))
            },
            |_| {},
        );
        assert_eq!(
            got,
            Err(Failure::transient("connection reset (after 4 attempts)"))
        );
        assert_eq!(calls, 4);
    }

    #[test]
    fn transient_statuses() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(status_is_transient(s), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 451] {
            assert!(!status_is_transient(s), "{s}");
        }
    }
}
