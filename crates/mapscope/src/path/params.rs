//! The hash the target process chose at start-up, read from its memory: the
//! AES switch, the AES key schedule and the fallback keys. The globals come
//! from DWARF when the binary has it; a stripped binary (`-s -w`) still has
//! its pclntab, so the runtime functions that use them are found by name and
//! the globals' addresses taken from their RIP-relative operands (amd64) or
//! their `ADRP`-based addresses (arm64).

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use super::PathError;
use crate::binary::{self, GoBinary};
use crate::disasm::arm64;
use crate::hash::{Arch, HashAlgorithm, HashParams, HashVersion};
use crate::memory::{Memory, MemoryExt};

/// The three globals, ≤1.26 in `runtime`, from 1.27 in `internal/runtime/maps`.
struct Names {
    use_aeshash: &'static str,
    aeskeysched: &'static str,
    hashkey: &'static str,
}

const RUNTIME: Names = Names {
    use_aeshash: "runtime.useAeshash",
    aeskeysched: "runtime.aeskeysched",
    hashkey: "runtime.hashkey",
};

const MAPS_127: Names = Names {
    use_aeshash: "internal/runtime/maps.UseAeshash",
    aeskeysched: "internal/runtime/maps.aeskeysched",
    hashkey: "internal/runtime/maps.hashkey",
};

/// Functions whose first `cmp byte ptr [rip+X], 0` tests the AES switch:
/// the 8-byte hash entry point (asm ≤1.26, Go in 1.27).
const FLAG_USERS: &[&str] = &["internal/runtime/maps.MemHash64", "runtime.memhash64"];
/// Functions whose first `aesenc xmm, [rip+X]` reads `aeskeysched[0:16]`.
const SCHED_USERS: &[&str] = &["internal/runtime/maps.memHash64AES", "runtime.memhash64"];
/// Functions that read `hashkey[0]` (and in 1.23+ the other words) as
/// 8-byte RIP-relative operands; the lowest address read is `hashkey[0]`.
const KEY_USERS: &[&str] = &["internal/runtime/maps.memHashFallback", "runtime.memhashFallback"];

/// Where the hash keys were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsSource {
    /// The ELF symbol table: no DWARF to decompress and walk.
    Symbols,
    Dwarf,
    /// Addresses taken from the runtime's machine code (stripped binary).
    Code,
}

impl ParamsSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamsSource::Symbols => "symbol table",
            ParamsSource::Dwarf => "DWARF globals",
            ParamsSource::Code => "runtime code (stripped binary)",
        }
    }
}

/// The addresses of the three globals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashGlobals {
    pub use_aeshash: u64,
    pub aeskeysched: u64,
    /// Only needed by the fallback hash; `None` when it could not be found.
    pub hashkey: Option<u64>,
    pub source: ParamsSource,
}

/// What the target hashes with, and where that was read.
#[derive(Debug, Clone)]
pub struct TargetHash {
    pub params: HashParams,
    pub globals: HashGlobals,
}

fn hash_arch(bin: &GoBinary) -> Arch {
    match bin.arch() {
        binary::Arch::Amd64 => Arch::Amd64,
        binary::Arch::Arm64 => Arch::Arm64,
    }
}

/// The hash-relevant Go release family of `bin`.
pub fn hash_version(bin: &GoBinary) -> Result<HashVersion, PathError> {
    let v = bin.go_version().ok_or(PathError::Unsupported(
        "the Go version is unknown (try --go-version)".into(),
    ))?;
    Ok(HashVersion::for_go(v.major, v.minor)?)
}

/// Finds the globals: the symbol table first (cheapest), then DWARF, then the code.
pub fn find_globals(bin: &GoBinary) -> Result<HashGlobals, PathError> {
    let version = hash_version(bin)?;
    let names = if version == HashVersion::Go127 {
        &MAPS_127
    } else {
        &RUNTIME
    };
    let symbol = |name: &str| bin.data_symbol(name).map(|s| s.addr);
    if let (Some(flag), Some(sched)) = (symbol(names.use_aeshash), symbol(names.aeskeysched)) {
        return Ok(HashGlobals {
            use_aeshash: flag,
            aeskeysched: sched,
            hashkey: symbol(names.hashkey),
            source: ParamsSource::Symbols,
        });
    }
    let dwarf = |name: &str| bin.global(name).ok().flatten().map(|g| g.addr);
    if let (Some(flag), Some(sched)) = (dwarf(names.use_aeshash), dwarf(names.aeskeysched)) {
        return Ok(HashGlobals {
            use_aeshash: flag,
            aeskeysched: sched,
            hashkey: dwarf(names.hashkey),
            source: ParamsSource::Dwarf,
        });
    }
    globals_from_code(bin)
}

/// The globals' addresses from the runtime's own instructions (amd64).
pub fn globals_from_code(bin: &GoBinary) -> Result<HashGlobals, PathError> {
    if bin.arch() == binary::Arch::Arm64 {
        return globals_from_arm64_code(bin);
    }
    let flag = first_operand(bin, FLAG_USERS, |ins| {
        ins.mnemonic() == Mnemonic::Cmp
            && ins.op_count() == 2
            && ins.op1_kind() == OpKind::Immediate8
            && ins.immediate8() == 0
    })
    .ok_or_else(|| {
        PathError::Unsupported("cannot find runtime.useAeshash: no DWARF, and no memhash64 that tests it".into())
    })?;
    let sched = first_operand(bin, SCHED_USERS, |ins| ins.mnemonic() == Mnemonic::Aesenc).ok_or_else(|| {
        PathError::Unsupported("cannot find runtime.aeskeysched: no DWARF, and no memhash64 that reads it".into())
    })?;
    let hashkey = KEY_USERS.iter().find_map(|name| {
        let f = bin.func_by_name(name)?;
        rip_operands(bin, f.entry, f.end)
            .filter(|(ins, _)| ins.memory_size().size() == 8)
            .map(|(_, addr)| addr)
            .min()
    });
    Ok(HashGlobals {
        use_aeshash: flag,
        aeskeysched: sched,
        hashkey,
        source: ParamsSource::Code,
    })
}

/// arm64: the same functions; `MOVB useAeshash(SB)` (or Go's `if UseAeshash`)
/// is the first one-byte PC-relative load, `MOVD $aeskeysched(SB), R3` the
/// first PC-relative address, and the fallback's 8-byte (or pair) loads read
/// `hashkey`, lowest address first.
fn globals_from_arm64_code(bin: &GoBinary) -> Result<HashGlobals, PathError> {
    let refs_of = |name: &str| -> Option<Vec<arm64::PcRef>> {
        let f = bin.func_by_name(name)?;
        let len = f.end.saturating_sub(f.entry).min(MAX_CODE);
        let bytes = bin.read_at(f.entry, len).ok()?;
        Some(arm64::track(&arm64::decode(bytes, f.entry)).0)
    };
    let first = |funcs: &[&str], want: &dyn Fn(arm64::Access) -> bool| {
        funcs
            .iter()
            .find_map(|name| refs_of(name)?.into_iter().find(|r| want(r.access)).map(|r| r.addr))
    };
    let flag = first(FLAG_USERS, &|a| a == arm64::Access::Load(1)).ok_or_else(|| {
        PathError::Unsupported("cannot find runtime.useAeshash: no DWARF, and no memhash64 that tests it".into())
    })?;
    let sched = first(SCHED_USERS, &|a| a == arm64::Access::Address).ok_or_else(|| {
        PathError::Unsupported("cannot find runtime.aeskeysched: no DWARF, and no memhash64 that reads it".into())
    })?;
    let hashkey = KEY_USERS.iter().find_map(|name| {
        refs_of(name)?
            .into_iter()
            .filter(|r| matches!(r.access, arm64::Access::Load(8 | 16)))
            .map(|r| r.addr)
            .min()
    });
    Ok(HashGlobals {
        use_aeshash: flag,
        aeskeysched: sched,
        hashkey,
        source: ParamsSource::Code,
    })
}

/// The RIP-relative memory operand of the first instruction matching `want`
/// in the first of `funcs` that has one.
fn first_operand(bin: &GoBinary, funcs: &[&str], want: impl Fn(&Instruction) -> bool) -> Option<u64> {
    funcs.iter().find_map(|name| {
        let f = bin.func_by_name(name)?;
        rip_operands(bin, f.entry, f.end)
            .find(|(ins, _)| want(ins))
            .map(|(_, addr)| addr)
    })
}

/// Largest function examined: the hash entry points are a few dozen bytes;
/// the fallback memhash a few hundred.
const MAX_CODE: u64 = 64 << 10;

/// Every instruction of `entry..end` with a RIP-relative memory operand,
/// and that operand's absolute address.
fn rip_operands(bin: &GoBinary, entry: u64, end: u64) -> impl Iterator<Item = (Instruction, u64)> + '_ {
    let len = end.saturating_sub(entry).min(MAX_CODE);
    let bytes = bin.read_at(entry, len).unwrap_or(&[]);
    let mut d = Decoder::with_ip(64, bytes, entry, DecoderOptions::NONE);
    // Each decode consumes at least one byte, so this ends.
    std::iter::from_fn(move || {
        if !d.can_decode() {
            return None;
        }
        Some(d.decode())
    })
    .filter(|ins| ins.code() != Code::INVALID && ins.is_ip_rel_memory_operand() && ins.memory_base() == Register::RIP)
    .map(|ins| {
        let addr = ins.ip_rel_memory_address();
        (ins, addr)
    })
}

/// Reads the keys the target hashes with. AES needs the switch and the key
/// schedule; the fallback needs `hashkey`.
pub fn read_target_hash(bin: &GoBinary, mem: &dyn Memory) -> Result<TargetHash, PathError> {
    let version = hash_version(bin)?;
    let globals = find_globals(bin)?;
    let read = |what: &'static str, addr: u64, len: u64| {
        mem.read_vec(addr, len)
            .map_err(|source| PathError::Memory { what, addr, source })
    };
    let flag = read("the AES switch (useAeshash)", globals.use_aeshash, 1)?;
    let use_aes = flag.first().copied().unwrap_or(0) != 0;
    let sched = if use_aes {
        read("the AES key schedule (aeskeysched)", globals.aeskeysched, 128)?
    } else {
        Vec::new()
    };
    let hashkey: Vec<u64> = if use_aes {
        Vec::new()
    } else {
        let addr = globals.hashkey.ok_or_else(|| {
            PathError::Unsupported("the target uses the fallback hash, and runtime.hashkey cannot be found".into())
        })?;
        read("the fallback hash keys (hashkey)", addr, 32)?
            .chunks_exact(8)
            .map(|w| {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                u64::from_le_bytes(b)
            })
            .collect()
    };
    let alg = HashAlgorithm::from_runtime(use_aes, &sched, &hashkey)?;
    // hash_version succeeded, so the version is known.
    let params = match bin.go_version() {
        Some(v) => HashParams::for_go(hash_arch(bin), v.major, v.minor, alg)?,
        None => HashParams::new(hash_arch(bin), version, alg)?,
    };
    Ok(TargetHash { params, globals })
}
