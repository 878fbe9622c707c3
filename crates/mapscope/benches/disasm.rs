//! `disasm` over whole fixture binaries: every map call site (decodes and
//! tracks all non-runtime code that calls map functions) plus every runtime
//! map function annotated. Plain `Instant` timing, a few iterations, so it
//! runs on stable without a bench framework: `cargo bench -p mapscope --bench disasm`.

use std::time::{Duration, Instant};

use mapscope::binary::GoBinary;
use mapscope::disasm::{self, Annotator};

const ITERATIONS: u32 = 5;

fn main() {
    let names: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let names = if names.is_empty() {
        vec!["go1.22".to_string(), "go1.27".to_string()]
    } else {
        names
    };
    for name in names {
        let Ok(fx) = mapscope_fixtures::get(&name) else {
            eprintln!("no fixture {name}");
            continue;
        };
        let Ok(path) = fx.binary_path() else { continue };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut best = [Duration::MAX; 3];
        let mut counts = (0, 0, 0);
        for _ in 0..ITERATIONS {
            // A fresh open each time: the name index and type index are part of the job.
            let t0 = Instant::now();
            let Ok(bin) = GoBinary::open(&path) else { break };
            let sites = disasm::call_sites(&bin).map(|s| s.len()).unwrap_or(0);
            let t1 = Instant::now();
            let Ok(a) = Annotator::new(&bin) else { break };
            let funcs = disasm::runtime_map_functions(&bin);
            let mut insns = 0;
            for f in &funcs {
                insns += a.annotate(f).map(|af| af.instructions.len()).unwrap_or(0);
            }
            let t2 = Instant::now();
            counts = (sites, funcs.len(), insns);
            for (b, d) in best.iter_mut().zip([t1 - t0, t2 - t1, t2 - t0]) {
                *b = (*b).min(d);
            }
        }
        println!(
            "disasm {name} ({:.1} MB): call sites {:>7.1} ms ({} sites) | annotate {:>7.1} ms ({} functions, {} instructions) | total {:>7.1} ms  [best of {ITERATIONS}]",
            size as f64 / 1e6,
            best[0].as_secs_f64() * 1e3,
            counts.0,
            best[1].as_secs_f64() * 1e3,
            counts.1,
            counts.2,
            best[2].as_secs_f64() * 1e3,
        );
    }
}
