//! Finalizers as roots: every Go program's os package sets a finalizer,
//! `(*os.file).close`, on the files of stdin, stdout and stderr. On every
//! fixture core the heap's specials must show such finalizers, attached to
//! allocated objects, with the funcval's code in that function.

use mapscope::binary::GoBinary;
use mapscope::heap::{Heap, SpecialKind};
use mapscope::memory::{CoreFile, MemoryExt};

#[test]
fn os_file_finalizers_are_found() {
    for fx in mapscope_fixtures::all().unwrap() {
        let exe = fx.binary_path().unwrap();
        let bin = GoBinary::open(&exe).unwrap();
        let core = CoreFile::open_with_executable(fx.core_path().unwrap(), &exe).unwrap();
        let heap = Heap::open(&bin, &core).unwrap();
        let specials = heap.special_roots(&core);
        let closers = specials
            .iter()
            .filter(|s| s.kind == SpecialKind::Finalizer)
            .filter(|s| heap.find(s.object).is_some())
            .filter(|s| {
                let funcval = core.read_u64(s.words[0]).unwrap_or(0);
                let code = core.read_u64(funcval).unwrap_or(0);
                bin.func_for_pc(code).is_some_and(|f| f.name == "os.(*file).close")
            })
            .count();
        assert!(
            closers >= 3,
            "{}: {closers} os file finalizers among {specials:?}",
            fx.name()
        );
    }
}
