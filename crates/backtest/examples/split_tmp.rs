use candlecast_backtest::{run, synthetic, BrokerConfig, Metrics, RunOptions, SmaCross};
use std::time::Instant;
fn main() {
    let series = synthetic::random_walk(1_000_000, 7).unwrap();
    let broker = BrokerConfig { cash: 10_000.0, commission: 0.002, ..Default::default() };
    let (mut tr, mut tm) = (vec![], vec![]);
    for _ in 0..9 {
        let t0 = Instant::now();
        let r = run(&series, &mut SmaCross::new(10, 20), &broker, &RunOptions::default(), &mut |_| {}).unwrap();
        let t1 = Instant::now();
        let m = Metrics::compute(&r, &series);
        let t2 = Instant::now();
        std::hint::black_box(m);
        tr.push((t1 - t0).as_secs_f64() * 1e3);
        tm.push((t2 - t1).as_secs_f64() * 1e3);
    }
    tr.sort_by(f64::total_cmp); tm.sort_by(f64::total_cmp);
    println!("run {:.1} ms  metrics {:.1} ms (medians)", tr[4], tm[4]);
}
