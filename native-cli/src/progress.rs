//! Progress lines on stderr for long commands: step count, what the caller
//! says about the step, elapsed time and an ETA, at most about once a second.

use std::time::{Duration, Instant};

pub struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    last: Option<Instant>,
    quiet: bool,
}

impl Progress {
    pub fn new(total: usize, quiet: bool) -> Self {
        Progress {
            total,
            done: 0,
            started: Instant::now(),
            last: None,
            quiet,
        }
    }

    /// One step done; `what` describes it.
    pub fn step(&mut self, what: &str) {
        self.done += 1;
        if self.quiet {
            return;
        }
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < Duration::from_secs(1)) && self.done < self.total {
            return;
        }
        self.last = Some(now);
        let elapsed = self.started.elapsed().as_secs_f64();
        let per_step = elapsed / self.done as f64;
        let eta = per_step * self.total.saturating_sub(self.done) as f64;
        eprintln!(
            "[{}/{} max] {what}  {:.0} s, ≤ {:.0} s left ({:.2} s/step)",
            self.done, self.total, elapsed, eta, per_step
        );
    }

    /// The run ended (possibly early).
    pub fn done(&self) {
        if !self.quiet {
            eprintln!(
                "{} steps in {:.1} s",
                self.done,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}
