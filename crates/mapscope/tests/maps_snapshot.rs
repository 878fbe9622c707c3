//! Torn reads: a map whose header changes between reads (as in a live
//! process read without pausing it) is retried a bounded number of times and
//! then reported; an unchanging one is read once and not reported.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::maps::snapshot::snapshot;
use mapscope::maps::MapHandle;
use mapscope::memory::{CoreFile, Memory, MemoryError, Region};

/// Adds one to the map's count on every read of the header: a writer racing
/// the reader.
struct Churning {
    base: Arc<dyn Memory>,
    count_at: u64,
    bumps: AtomicU64,
}

impl Memory for Churning {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.base.read(addr, buf)?;
        let end = addr + buf.len() as u64;
        if addr <= self.count_at && self.count_at + 8 <= end {
            let at = (self.count_at - addr) as usize;
            let mut w = [0u8; 8];
            w.copy_from_slice(&buf[at..at + 8]);
            let n = u64::from_le_bytes(w) + self.bumps.fetch_add(1, Ordering::SeqCst) + 1;
            buf[at..at + 8].copy_from_slice(&n.to_le_bytes());
        }
        Ok(())
    }
    fn regions(&self) -> Vec<Region> {
        self.base.regions()
    }
    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        self.base.is_mapped(addr, len)
    }
}

#[test]
fn a_changing_map_is_retried_then_reported_and_a_still_one_is_not() {
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let exe = fx.binary_path().unwrap();
        let bin = GoBinary::open(&exe).unwrap();
        let core: Arc<dyn Memory> = Arc::new(CoreFile::open_with_executable(fx.core_path().unwrap(), &exe).unwrap());
        let truth = fx.truth().unwrap();
        let m = truth.map("main.Ints").unwrap();
        let ty = bin
            .runtime_type(mapscope_fixtures::hex_u64(&m.type_address).unwrap())
            .unwrap();
        let header = m.address_u64().unwrap();
        // count (classic) and used (Swiss) are both the header's first word.
        let churning = Arc::new(Churning {
            base: core.clone(),
            count_at: header,
            bumps: AtomicU64::new(0),
        });
        let mem: Arc<dyn Memory> = churning.clone();
        let snap = snapshot(|| MapHandle::for_type(mem.clone(), &bin, header, &ty), true, 3).unwrap();
        let torn = snap.torn.expect("a changing header must be reported");
        assert_eq!(torn.attempts, 4, "{variant}: one try and three retries");
        assert_eq!(
            torn.found, m.len as u64,
            "{variant}: the entries themselves did not change"
        );
        // The same map, still: one attempt, nothing reported.
        let snap = snapshot(|| MapHandle::for_type(core.clone(), &bin, header, &ty), true, 3).unwrap();
        assert!(snap.torn.is_none(), "{variant}");
        assert_eq!(snap.stats.entries, m.len as u64);
        // A core is not volatile: no second look.
        let before = churning.bumps.load(Ordering::SeqCst);
        let snap = snapshot(|| MapHandle::for_type(mem.clone(), &bin, header, &ty), false, 3).unwrap();
        assert!(snap.torn.is_none());
        assert_eq!(
            churning.bumps.load(Ordering::SeqCst),
            before + 1,
            "{variant}: read the header once"
        );
    }
}
