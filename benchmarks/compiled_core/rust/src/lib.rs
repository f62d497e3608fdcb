//! benchmarks/compiled_core/hotloop.py, line for line in Rust: the same design, a different language.
//! See that file for what it does and why; benchmarks/compiled_core_spike.py measures both.

use pyo3::prelude::*;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};

const EXPIRE: i64 = 0;
const ABSENCE: i64 = 1;
const OPEN: i64 = 2;
const CLOSE: i64 = 3;
const NEVER: i64 = -(1i64 << 62);
const HOUR: i64 = 3_600_000;
const MODULUS: i128 = (1i128 << 61) - 1;

/// A timer: fire at, sequence (ties in scheduling order), moment, kind, reference.
type Timer = (i64, u64, usize, i64, i64);

struct Held {
    ts: i64,
    seq: u64,
    kind: i64,
    value: f64,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.seq) == (other.ts, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ts, self.seq).cmp(&(other.ts, other.seq))
    }
}

struct MomentState {
    starts: Vec<i64>,
    count: i64,
    armed: i64,
    last: [i64; 3],
}

struct Customer {
    id: i64,
    buffer: BinaryHeap<Reverse<Held>>,
    timers: BinaryHeap<Reverse<Timer>>,
    ids: HashSet<i64>,
    frontier: i64,
    max_seen: i64,
    watermark: i64,
    wakeup: i64,
    moments: Vec<MomentState>,
}

#[pyclass]
struct HotLoop {
    moments: Vec<(i64, i64, i64, i64, i64, i64)>,
    lateness: i64,
    index: HashMap<i64, usize>,
    customers: Vec<Customer>,
    wakeups: BinaryHeap<Reverse<(i64, usize)>>,
    now: i64,
    seq: u64,
    tag: i64,
    #[pyo3(get)]
    outputs: u64,
    #[pyo3(get)]
    late: u64,
    #[pyo3(get)]
    duplicates: u64,
    checksum: i128,
}

#[pymethods]
impl HotLoop {
    #[new]
    fn new(moments: Vec<(i64, i64, i64, i64, i64, i64)>, lateness: i64) -> Self {
        HotLoop {
            moments,
            lateness,
            index: HashMap::new(),
            customers: Vec::new(),
            wakeups: BinaryHeap::new(),
            now: NEVER,
            seq: 0,
            tag: 0,
            outputs: 0,
            late: 0,
            duplicates: 0,
            checksum: 0,
        }
    }

    #[getter]
    fn checksum(&self) -> i64 {
        self.checksum as i64
    }

    fn feed(&mut self, customer: i64, kind: i64, ts: i64, value: f64, event_id: i64) {
        self.take(customer, kind, ts, value, event_id);
    }

    /// The same events through one boundary crossing: what a batch of a topic would cost.
    fn feed_many(
        &mut self,
        customers: Vec<i64>,
        kinds: Vec<i64>,
        ts: Vec<i64>,
        values: Vec<f64>,
        ids: Vec<i64>,
    ) {
        for i in 0..customers.len() {
            self.take(customers[i], kinds[i], ts[i], values[i], ids[i]);
        }
    }

    fn finish(&mut self) {
        let mut order: Vec<(i64, usize)> = self
            .customers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        order.sort();
        for (_, slot) in order {
            self.advance(slot, 1i64 << 62, true);
        }
    }
}

impl HotLoop {
    fn take(&mut self, customer: i64, kind: i64, ts: i64, value: f64, event_id: i64) {
        let slot = match self.index.get(&customer) {
            Some(&slot) => slot,
            None => {
                let moments = (0..self.moments.len())
                    .map(|_| MomentState {
                        starts: Vec::new(),
                        count: 0,
                        armed: 0,
                        last: [NEVER; 3],
                    })
                    .collect();
                self.customers.push(Customer {
                    id: customer,
                    buffer: BinaryHeap::new(),
                    timers: BinaryHeap::new(),
                    ids: HashSet::new(),
                    frontier: NEVER,
                    max_seen: NEVER,
                    watermark: NEVER,
                    wakeup: NEVER,
                    moments,
                });
                self.index.insert(customer, self.customers.len() - 1);
                self.customers.len() - 1
            }
        };
        let state = &mut self.customers[slot];
        if !state.ids.insert(event_id) {
            self.duplicates += 1;
            return;
        }
        if ts < state.frontier {
            self.late += 1;
            return;
        }
        self.seq += 1;
        state.buffer.push(Reverse(Held {
            ts,
            seq: self.seq,
            kind,
            value,
        }));
        state.max_seen = state.max_seen.max(ts);
        let watermark = state.max_seen - self.lateness;
        self.advance(slot, watermark, false);
        self.rearm(slot);
        if ts > self.now {
            self.now = ts;
        }
        self.fire_due();
    }

    fn fire_due(&mut self) {
        while let Some(&Reverse((at, slot))) = self.wakeups.peek() {
            if at > self.now {
                break;
            }
            self.wakeups.pop();
            if self.customers[slot].wakeup != at {
                continue;
            }
            self.customers[slot].wakeup = NEVER;
            self.advance(slot, self.now - self.lateness, false);
            self.rearm(slot);
        }
    }

    fn rearm(&mut self, slot: usize) {
        let lateness = self.lateness;
        let state = &mut self.customers[slot];
        let mut wakeup = NEVER;
        if let Some(Reverse(held)) = state.buffer.peek() {
            wakeup = held.ts + lateness;
        }
        if let Some(Reverse(timer)) = state.timers.peek() {
            let due = timer.0 + lateness + 1;
            wakeup = if wakeup == NEVER {
                due
            } else {
                wakeup.min(due)
            };
        }
        if wakeup != NEVER && wakeup != state.wakeup {
            state.wakeup = wakeup;
            self.wakeups.push(Reverse((wakeup, slot)));
        }
    }

    fn advance(&mut self, slot: usize, watermark: i64, inclusive: bool) {
        let watermark = {
            let state = &mut self.customers[slot];
            if watermark > state.watermark {
                state.watermark = watermark;
                watermark
            } else {
                state.watermark
            }
        };
        loop {
            let state = &mut self.customers[slot];
            let next_event = state.buffer.peek().map(|Reverse(h)| h.ts);
            let next_timer = state.timers.peek().map(|Reverse(t)| t.0);
            let event_due = matches!(next_event, Some(ts) if ts <= watermark);
            let timer_due = match next_timer {
                Some(at) => {
                    if inclusive {
                        at <= watermark
                    } else {
                        at < watermark
                    }
                }
                None => false,
            };
            if event_due && (!timer_due || next_event.unwrap() <= next_timer.unwrap()) {
                let Reverse(held) = state.buffer.pop().unwrap();
                state.frontier = state.frontier.max(held.ts);
                self.event(slot, held.kind, held.ts, held.value);
            } else if timer_due {
                let Reverse((fire_at, _, moment, kind, reference)) = state.timers.pop().unwrap();
                state.frontier = state.frontier.max(fire_at);
                self.timer(slot, moment, kind, reference, fire_at);
            } else {
                return;
            }
        }
    }

    fn schedule(&mut self, slot: usize, fire_at: i64, moment: usize, kind: i64, reference: i64) {
        self.seq += 1;
        self.customers[slot]
            .timers
            .push(Reverse((fire_at, self.seq, moment, kind, reference)));
    }

    fn emit(&mut self, slot: usize, moment: usize, kind: i64, at: i64) {
        let customer = self.customers[slot].id as i128;
        self.outputs += 1;
        self.checksum = (self.checksum * 1_000_003
            + customer * 131
            + moment as i128 * 17
            + kind as i128 * 3
            + at as i128)
            .rem_euclid(MODULUS);
    }

    fn event(&mut self, slot: usize, kind: i64, ts: i64, value: f64) {
        for index in 0..self.moments.len() {
            let (shape, a, b, c, d, within) = self.moments[index];
            if shape == 0 || shape == 3 {
                if kind == b && !self.customers[slot].moments[index].starts.is_empty() {
                    let starts = std::mem::take(&mut self.customers[slot].moments[index].starts);
                    let live = starts.iter().filter(|&&s| s >= ts - within).count();
                    for _ in 0..live {
                        if shape == 0 {
                            self.emit(slot, index, 0, ts);
                        } else {
                            self.tag += 1;
                            let tag = self.tag;
                            self.customers[slot].moments[index].armed = tag;
                            self.schedule(slot, ts + 19 * HOUR, index, OPEN, tag);
                            self.schedule(slot, ts + 37 * HOUR, index, CLOSE, tag);
                        }
                    }
                }
                if shape == 3 && kind == d && self.customers[slot].moments[index].armed != 0 {
                    self.customers[slot].moments[index].armed = 0;
                    self.emit(slot, index, 3, ts);
                }
                if kind == a && (shape == 0 || value >= 50.0) {
                    self.customers[slot].moments[index].starts.push(ts);
                    self.schedule(slot, ts + within, index, EXPIRE, 0);
                }
            } else if shape == 1 {
                let ms = &mut self.customers[slot].moments[index];
                if ms.armed != 0 && (kind == a || kind == b) {
                    ms.armed = 0;
                }
                if kind == a {
                    ms.count += 1;
                    if ms.count >= 2 {
                        ms.count = 0;
                        self.tag += 1;
                        ms.armed = self.tag;
                        let tag = self.tag;
                        self.schedule(slot, ts + within, index, ABSENCE, tag);
                    }
                }
            } else if kind == a || kind == b || kind == c {
                let ms = &mut self.customers[slot].moments[index];
                let position = if kind == a {
                    0
                } else if kind == b {
                    1
                } else {
                    2
                };
                ms.last[position] = ts;
                let seen = ms.last.iter().filter(|&&at| at >= ts - within).count();
                if seen >= 2 {
                    ms.last = [NEVER; 3];
                    self.emit(slot, index, 0, ts);
                }
            }
        }
    }

    fn timer(&mut self, slot: usize, moment: usize, kind: i64, reference: i64, fire_at: i64) {
        let within = self.moments[moment].5;
        let ms = &mut self.customers[slot].moments[moment];
        if kind == EXPIRE {
            ms.starts.retain(|&s| s + within > fire_at);
        } else if ms.armed == reference {
            if kind == ABSENCE {
                ms.armed = 0;
                self.emit(slot, moment, 1, fire_at);
            } else if kind == OPEN {
                self.emit(slot, moment, 2, fire_at);
            } else {
                ms.armed = 0;
                self.emit(slot, moment, 4, fire_at);
            }
        }
    }
}

#[pymodule]
fn hotloop_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<HotLoop>()?;
    Ok(())
}
