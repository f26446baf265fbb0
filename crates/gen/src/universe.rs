//! The securities of the generated universe and how one of them moves through a trading day.

use std::collections::HashSet;

use rand::Rng;
use rand::distr::Distribution;
use rand_distr::{Poisson, StandardNormal};
use rand_pcg::Pcg64Mcg;

use crate::SECTORS;

/// Target number of live securities, and how many of them form the large-cap index.
const N_TARGET: usize = 3000;
const N_LARGE: usize = 1000;
/// Sector weights of new securities (GICS-like proportions), in `SECTORS` order.
const SECTOR_WEIGHTS: [f64; 11] = [4.0, 12.0, 4.0, 4.0, 17.0, 16.0, 15.0, 13.0, 5.0, 6.0, 4.0];
/// Trading days between two ex-dates of a quarterly payer.
const DIVIDEND_CYCLE: i64 = 63;

/// Student-t with 4 degrees of freedom scaled to unit variance: `Z / sqrt(χ²₄/4) / sqrt(2)`,
/// with `χ²₄ = −2 ln(U₁U₂)` (the sum of two exponentials), cheaper than a gamma sampler.
pub(crate) fn student_t4(rng: &mut Pcg64Mcg) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = 1.0 - rng.random::<f64>();
    let chi2 = -2.0 * (u1 * u2).ln();
    z / (chi2 / 4.0).sqrt() / std::f64::consts::SQRT_2
}

/// Index membership of a security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexCode {
    R1000 = 0,
    R2000 = 1,
}

impl IndexCode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IndexCode::R1000 => "R1000",
            IndexCode::R2000 => "R2000",
        }
    }
}

/// Membership and drift of a security in the sector-equal index of its block.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EqualWeight {
    /// 0 = R1000_EW, 1 = R2000_EW; none between listing and the next rebalance.
    pub(crate) index: Option<usize>,
    pub(crate) w0: f64,
    pub(crate) growth_tr: f64,
    pub(crate) growth_pr: f64,
}

/// The common factors of one trading day.
pub(crate) struct DayFactors {
    /// Trading days since the first day of the drop (dividend cycles).
    pub(crate) gday: i64,
    pub(crate) market: f64,
    pub(crate) size: f64,
    pub(crate) sector: [f64; SECTORS.len()],
    /// The volatility regime's multiplier.
    pub(crate) mult: f64,
}

/// The return of a security on a day, from the values as written.
pub(crate) struct DayReturn {
    /// `shares(t−1) × close(t−1)`: the cap weight.
    pub(crate) prev_cap: f64,
    pub(crate) total: f64,
    pub(crate) price: f64,
}

pub(crate) struct Security {
    pub(crate) id: i64,
    pub(crate) ticker: String,
    pub(crate) sector: u8,
    beta: f64,
    size_loading: f64,
    sigma: f64,
    payer: bool,
    dividend_yield: f64,
    phase: i64,
    /// Unrounded model price.
    price: f64,
    /// Unrounded shares outstanding.
    shares: f64,
    pub(crate) code: IndexCode,
    new_code: IndexCode,
    /// First and one-past-last trading day of this year on which the security has a row.
    start: usize,
    end: usize,
    /// Alive before this year: its first row of the year has a return.
    carried: bool,
    pub(crate) close_cents: i64,
    pub(crate) dividend_ten_thousandths: i64,
    pub(crate) shares_now: i64,
    pub(crate) ew: EqualWeight,
}

impl Security {
    fn alive_on(&self, t: usize) -> bool {
        self.start <= t && t < self.end
    }

    /// Moves the security through day `t` of the year and returns its return, or `None` on
    /// its listing day.
    pub(crate) fn step(&mut self, rng: &mut Pcg64Mcg, t: usize, f: &DayFactors) -> Option<DayReturn> {
        if t == self.start && !self.carried {
            self.close_cents = ((self.price * 100.0).round() as i64).max(1);
            self.dividend_ten_thousandths = 0;
            self.shares_now = self.shares as i64;
            return None;
        }
        let prev_cents = self.close_cents;
        let prev_shares = self.shares_now;
        let idio = student_t4(rng) * self.sigma * f.mult.sqrt();
        let r = (self.beta * f.market
            + self.size_loading * f.size
            + f.sector[self.sector as usize]
            + idio
            + 0.5 * self.sigma * self.sigma)
            .clamp(-0.8, 3.0);
        let ex_date = self.payer && (f.gday - self.phase).rem_euclid(DIVIDEND_CYCLE) == 0;
        let q = if ex_date { self.dividend_yield / 4.0 } else { 0.0 };
        let prev_price = self.price;
        self.price *= (1.0 + r - q).max(0.05);
        self.dividend_ten_thousandths = (q * prev_price * 10_000.0).round() as i64;
        if rng.random::<f64>() < 1.0 / 750.0 {
            let change: f64 = StandardNormal.sample(rng);
            self.shares = (self.shares * (1.0 + (0.04 * change).clamp(-0.3, 0.3))).round().max(1.0);
        }
        self.shares_now = self.shares as i64;
        self.close_cents = ((self.price * 100.0).round() as i64).max(1);
        if self.close_cents < 100 {
            // Below $1: this is its last trading day.
            self.end = t + 1;
        }
        // Returns from the values as written: what a reader of the CSV computes.
        let prev_close = prev_cents as f64 / 100.0;
        let close = self.close_cents as f64 / 100.0;
        let dividend = self.dividend_ten_thousandths as f64 / 10_000.0;
        Some(DayReturn {
            prev_cap: prev_shares as f64 * prev_close,
            total: (close + dividend) / prev_close - 1.0,
            price: close / prev_close - 1.0,
        })
    }
}

pub(crate) struct Universe {
    securities: Vec<Security>,
    tickers: HashSet<String>,
    next_id: i64,
    /// Cap of the smallest R1000 member at the last ranking.
    cutoff_cap: f64,
    /// Trading days generated before the current year.
    gday: i64,
}

fn new_ticker(rng: &mut Pcg64Mcg, used: &mut HashSet<String>) -> String {
    const LENGTHS: [usize; 6] = [2, 3, 4, 4, 4, 5];
    loop {
        let len = LENGTHS[rng.random_range(0..LENGTHS.len())];
        let t: String = (0..len).map(|_| char::from(b'A' + rng.random_range(0..26u8))).collect();
        if used.insert(t.clone()) {
            return t;
        }
    }
}

fn pick_sector(rng: &mut Pcg64Mcg) -> u8 {
    let total: f64 = SECTOR_WEIGHTS.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in SECTOR_WEIGHTS.iter().enumerate() {
        if u < *w {
            return i as u8;
        }
        u -= w;
    }
    (SECTOR_WEIGHTS.len() - 1) as u8
}

impl Universe {
    pub(crate) fn new(rng: &mut Pcg64Mcg) -> Universe {
        let mut u =
            Universe { securities: Vec::new(), tickers: HashSet::new(), next_id: 100_001, cutoff_cap: 0.0, gday: 0 };
        for _ in 0..N_TARGET {
            u.add(rng, 0);
        }
        // Before the first day there are no closes yet: rank on the model's initial caps.
        u.rank_where(|_| true, |s| s.price * s.shares);
        u.apply_reconstitution();
        u
    }

    fn add(&mut self, rng: &mut Pcg64Mcg, start: usize) {
        let n = |rng: &mut Pcg64Mcg| -> f64 { StandardNormal.sample(rng) };
        let z = n(rng);
        let cap = (1.5e9_f64.ln() + 1.5 * z).exp().clamp(5e7, 3e12);
        let price = (40.0_f64.ln() + 0.3 * z + 0.7 * n(rng)).exp().clamp(3.0, 2000.0);
        let shares = (cap / price).round().max(1.0);
        let sigma = (0.014 * (-0.25 * z + 0.25 * n(rng)).exp()).clamp(0.005, 0.04);
        let code = if price * shares >= self.cutoff_cap { IndexCode::R1000 } else { IndexCode::R2000 };
        let sec = Security {
            id: self.next_id,
            ticker: new_ticker(rng, &mut self.tickers),
            sector: pick_sector(rng),
            beta: 1.0 + 0.25 * n(rng),
            size_loading: -0.5 * z + 0.3 * n(rng),
            sigma,
            payer: rng.random::<f64>() < 0.45 + if z > 0.0 { 0.15 } else { 0.0 },
            dividend_yield: rng.random_range(0.005..0.05),
            phase: rng.random_range(0..DIVIDEND_CYCLE),
            price,
            shares,
            code,
            new_code: code,
            start,
            end: usize::MAX,
            carried: false,
            close_cents: 0,
            dividend_ten_thousandths: 0,
            shares_now: shares as i64,
            ew: EqualWeight::default(),
        };
        self.next_id += 1;
        self.securities.push(sec);
    }

    /// Lays out this year's delistings and listings for a year of `days` trading days.
    pub(crate) fn start_year(&mut self, rng: &mut Pcg64Mcg, days: usize) {
        let alive = self.securities.len();
        for sec in &mut self.securities {
            sec.start = 0;
            sec.end = days;
            if rng.random::<f64>() < 0.07 {
                sec.end = rng.random_range(1..days);
            }
        }
        let poisson = Poisson::new(0.07 * N_TARGET as f64).expect("valid Poisson mean");
        let listings = poisson.sample(rng) as usize + N_TARGET.saturating_sub(alive) / 2;
        for _ in 0..listings {
            let start = rng.random_range(0..days);
            self.add(rng, start);
            self.securities.last_mut().expect("just added").end = days;
        }
    }

    /// The securities with a row on day `t`, in security id order.
    pub(crate) fn live_mut(&mut self, t: usize) -> impl Iterator<Item = &mut Security> {
        self.securities.iter_mut().filter(move |s| s.alive_on(t))
    }

    /// Ranks the securities alive on day `t` by cap: the top 1,000 become R1000 at the next
    /// reconstitution, the rest R2000.
    pub(crate) fn rank(&mut self, t: usize) {
        self.rank_where(|s| s.alive_on(t), |s| s.close_cents as f64 / 100.0 * s.shares_now as f64);
    }

    fn rank_where(&mut self, alive: impl Fn(&Security) -> bool, cap_of: impl Fn(&Security) -> f64) {
        let mut ranked: Vec<(f64, usize)> =
            self.securities.iter().enumerate().filter(|(_, s)| alive(s)).map(|(i, s)| (cap_of(s), i)).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (rank, (c, i)) in ranked.iter().enumerate() {
            self.securities[*i].new_code = if rank < N_LARGE { IndexCode::R1000 } else { IndexCode::R2000 };
            if rank + 1 == N_LARGE.min(ranked.len()) {
                self.cutoff_cap = *c;
            }
        }
    }

    /// Makes the last ranking's membership effective.
    pub(crate) fn apply_reconstitution(&mut self) {
        for s in &mut self.securities {
            s.code = s.new_code;
        }
    }

    /// Resets the sector-equal blocks at the close of day `t`: every security alive on `t`
    /// joins the block of its index with weight `1/(K·n_sector)`.
    pub(crate) fn rebalance_equal_weight(&mut self, t: usize) {
        let mut counts = [[0usize; SECTORS.len()]; 2];
        for s in self.securities.iter().filter(|s| s.alive_on(t)) {
            counts[s.code as usize][s.sector as usize] += 1;
        }
        let sectors_with_members = counts.map(|c| c.iter().filter(|n| **n > 0).count());
        for s in &mut self.securities {
            s.ew = if s.alive_on(t) {
                let k = s.code as usize;
                let n = counts[k][s.sector as usize];
                EqualWeight {
                    index: Some(k),
                    w0: 1.0 / (sectors_with_members[k] * n) as f64,
                    growth_tr: 1.0,
                    growth_pr: 1.0,
                }
            } else {
                EqualWeight::default()
            };
        }
    }

    /// Drops the securities that did not survive the year of `days` trading days.
    pub(crate) fn end_year(&mut self, days: usize) {
        self.securities.retain(|s| s.end >= days);
        for s in &mut self.securities {
            s.carried = true;
        }
        self.gday += days as i64;
    }

    /// Trading days generated before the current year.
    pub(crate) fn gday(&self) -> i64 {
        self.gday
    }

    /// Securities ever created.
    pub(crate) fn total_securities(&self) -> u64 {
        (self.next_id - 100_001) as u64
    }
}
