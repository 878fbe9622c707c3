//! Opening what a memory command reads: the executable and a core dump or a
//! live process (paused on request, and then always resumed).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use anyhow::{anyhow, Context};
use mapscope::binary::GoBinary;
use mapscope::memory::{CoreFile, LiveProcess, Memory, PauseGuard};

use crate::output::NotFound;
use crate::{Common, Target};

pub struct Opened {
    pub bin: GoBinary,
    pub mem: Arc<dyn Memory>,
    /// Held for as long as the snapshot is read; dropping it resumes the process.
    pub pause: Option<PauseGuard>,
    pub live: Option<i32>,
    /// The threads' registers (a core's notes, a paused process's ptrace
    /// registers; empty for a running process).
    pub threads: Vec<mapscope::memory::ThreadStatus>,
    /// The process's id: a core's notes (NT_PRPSINFO) or the live pid.
    pub pid: Option<i32>,
}

/// No signal that ends mapscope (Ctrl-C, `timeout`'s SIGTERM, a closed
/// terminal's SIGHUP, SIGQUIT, …) may leave a paused process stopped.
pub fn resume_on_interrupt() {
    static ONCE: Once = Once::new();
    ONCE.call_once(mapscope::memory::resume_paused_on_fatal_signals);
}

/// Stops process `pid` for one snapshot (the guard resumes it): with ptrace,
/// so that even a SIGKILL of mapscope lets the kernel resume it; with SIGSTOP,
/// said once on stderr, when ptrace is refused. `what` heads the error.
pub fn pause(pid: i32, what: &str) -> anyhow::Result<PauseGuard> {
    resume_on_interrupt();
    let guard = PauseGuard::pause(pid, mapscope::memory::DEFAULT_PAUSE_TIMEOUT)
        .with_context(|| format!("{what} process {pid}"))?;
    if let mapscope::memory::PauseMethod::Signal { ptrace_refused } = guard.method() {
        static NOTED: Once = Once::new();
        NOTED.call_once(|| {
            eprintln!(
                "mapscope: note: ptrace was refused ({ptrace_refused}); process {pid} is paused with SIGSTOP \
                 instead, which a SIGKILL of mapscope would leave stopped"
            )
        });
    }
    // Tests only: hold the pause so that a test can kill mapscope while it
    // holds the target (MAPSCOPE_TEST_HOLD_PAUSE_MS, hidden on purpose).
    if let Some(ms) = std::env::var("MAPSCOPE_TEST_HOLD_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
    }
    Ok(guard)
}

/// Splits a memory command's positionals into the core file (absent with
/// --pid) and the `want` arguments that follow it.
pub fn split<'a>(t: &Target, args: &'a [String], want: usize) -> anyhow::Result<(Option<&'a Path>, &'a [String])> {
    let (core, rest) = match (t.pid, args.split_first()) {
        (Some(_), _) => (None, args),
        (None, Some((core, rest))) => (Some(Path::new(core.as_str())), rest),
        (None, None) => return Err(anyhow!("a core file or --pid is needed")),
    };
    if rest.len() != want {
        let what = if t.pid.is_some() {
            "with --pid"
        } else {
            "after the core file"
        };
        return Err(anyhow!(
            "expected {want} argument(s) {what}, got {}: {}",
            rest.len(),
            rest.join(" ")
        ));
    }
    Ok((core, rest))
}

pub fn open(t: &Target, core: Option<&Path>, common: &Common) -> anyhow::Result<Opened> {
    if let Some(pid) = t.pid {
        let pid = i32::try_from(pid).map_err(|_| anyhow!("pid {pid} out of range"))?;
        let live = LiveProcess::attach(pid).with_context(|| format!("process {pid}"))?;
        let exe: PathBuf = if t.exe == Path::new("-") {
            live.exe_path()?
        } else {
            live.check_executable(&t.exe)
                .with_context(|| format!("process {pid}"))?;
            t.exe.clone()
        };
        let bin = super::open_binary(&exe, common)?;
        let pause = if t.pause { Some(pause(pid, "pausing")?) } else { None };
        // A paused process tells where its threads stopped, as a core's notes do.
        let threads = pause.as_ref().map(PauseGuard::thread_registers).unwrap_or_default();
        return Ok(Opened {
            bin,
            mem: Arc::new(live),
            pause,
            live: Some(pid),
            threads,
            pid: Some(pid),
        });
    }
    let core_path = core.ok_or_else(|| anyhow!("a core file or --pid is needed"))?;
    let mut core_file = CoreFile::open(core_path).with_context(|| core_path.display().to_string())?;
    let exe: PathBuf = if t.exe == Path::new("-") {
        core_file
            .executable_path()
            .ok_or_else(|| anyhow!("{}: its notes name no executable", core_path.display()))?
    } else {
        t.exe.clone()
    };
    let bin = super::open_binary(&exe, common)?;
    core_file
        .attach_executable(mapscope::memory::ImageMemory::open(&exe).with_context(|| exe.display().to_string())?)
        .with_context(|| format!("{} does not fit {}", exe.display(), core_path.display()))?;
    let threads = core_file.notes().threads.clone();
    let pid = core_file.notes().process.as_ref().map(|p| p.pid);
    Ok(Opened {
        bin,
        mem: Arc::new(core_file),
        pause: None,
        live: None,
        threads,
        pid,
    })
}

/// A map named by a global, `0xADDR:TYPE`, or — through the census — by an
/// owner expression (`main.server.cache`) or a bare `0xADDR`.
pub fn resolve_map(opened: &Opened, expr: &str) -> anyhow::Result<mapscope::maps::resolve::NamedMap> {
    use mapscope::maps::resolve::{resolve, NamedMap, ResolveError};
    let first = match resolve(&opened.bin, &*opened.mem, expr) {
        Ok(n) => return Ok(n),
        Err(e @ (ResolveError::NoGlobal(_) | ResolveError::BadExpression(_))) => e,
        Err(e @ ResolveError::NoType(_)) => return Err(NotFound(e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };
    let bare = expr.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok());
    let census = mapscope::census::run(&opened.bin, opened.mem.clone(), &opened.threads, None)
        .map_err(|e| anyhow!("{first}; and the census that would find it by owner failed: {e}"))?;
    let Some(m) = census.maps.iter().find(|m| Some(m.address) == bare || m.owner == expr) else {
        let near: Vec<&str> = census
            .maps
            .iter()
            .map(|m| m.owner.as_str())
            .filter(|o| o.contains(expr) || expr.contains(*o))
            .take(5)
            .collect();
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!(" (owners that look alike: {})", near.join(", "))
        };
        return Err(NotFound(format!(
            "no global and no map in the census is named {expr}{hint}; `mapscope maps` lists every map with its owner"
        ))
        .into());
    };
    let Some(type_name) = &m.type_name else {
        return Err(anyhow!(
            "the census found the map at {:#x} ({}) but cannot tell its type; name it as {:#x}:TYPE{}",
            m.address,
            m.owner,
            m.address,
            if m.type_candidates.is_empty() {
                String::new()
            } else {
                format!(", one of: {}", m.type_candidates.join(", "))
            }
        ));
    };
    let map_type = opened.bin.runtime_type_by_name(type_name)?.ok_or_else(|| {
        anyhow!(
            "the census typed {:#x} as {type_name}, which has no runtime descriptor",
            m.address
        )
    })?;
    Ok(NamedMap {
        name: if m.owner.is_empty() {
            expr.to_string()
        } else {
            m.owner.clone()
        },
        map_type,
        variable: None,
        header: m.address,
    })
}

/// Whether `expr` names its map's type itself (`0xADDR:TYPE`).
fn names_its_type(expr: &str) -> bool {
    expr.split_once(':').is_some_and(|(a, _)| {
        a.strip_prefix("0x")
            .or_else(|| a.strip_prefix("0X"))
            .is_some_and(|h| u64::from_str_radix(h, 16).is_ok())
    })
}

/// A type the user named (`0xADDR:TYPE`) is proved against the map's memory
/// before it is believed: a contradicted type is an error (exit 2) naming
/// the binary's map types that fit, unless `--force`. `None` when the type
/// came from DWARF or the census.
pub fn prove_named(
    opened: &Opened,
    target: &Target,
    expr: &str,
    named: &mapscope::maps::resolve::NamedMap,
) -> anyhow::Result<Option<mapscope::census::prove::TypeProof>> {
    if !names_its_type(expr) || named.header == 0 {
        return Ok(None);
    }
    let proof =
        mapscope::census::prove::prove_type(&opened.bin, opened.mem.clone(), named.header, &named.map_type, false);
    if proof.is_wrong() {
        let why = match &proof.verdict {
            mapscope::census::prove::Verdict::Wrong { why } => why.as_str(),
            _ => "",
        };
        let fits = if proof.candidates.is_empty() {
            "no map type of the binary fits its memory".to_string()
        } else {
            let more = proof.candidates_total.saturating_sub(proof.candidates.len());
            format!(
                "map types of the binary that fit its memory and whose hashes agree: {}{}",
                proof.candidates.join(", "),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            )
        };
        if !target.force {
            return Err(anyhow!(
                "the map at {:#x} is not a {}: {why}; {fits} (--force decodes it anyway)",
                named.header,
                named.map_type.name
            ));
        }
        eprintln!(
            "mapscope: warning: decoding the map at {:#x} as {} although {why} (--force); {fits}",
            named.header, named.map_type.name
        );
    }
    Ok(Some(proof))
}
