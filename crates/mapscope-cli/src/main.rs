//! The `mapscope` command line: argument parsing, output and exit codes over
//! the mapscope library. Exit codes: 0 ok, 1 not found, 2 error.

mod cmd;
mod output;
mod picture;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// `--version`: the commit, and the map runtimes and Go releases covered.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MAPSCOPE_COMMIT"),
    ")\n",
    "map runtimes: classic runtime.hmap (go1.19-go1.23, and go1.24/go1.25 with GOEXPERIMENT=noswissmap),\n",
    "              Swiss tables (go1.24-go1.27), split groups (go1.27 with GOEXPERIMENT=mapsplitgroup)\n",
    "tested on:    go1.19, go1.21-go1.27 (go1.20 by its neighbours' layouts); linux ELF amd64 and arm64 (arm64 cores from the kernel or qemu-user)",
);

#[derive(Parser)]
#[command(
    name = "mapscope",
    version,
    long_version = LONG_VERSION,
    about = "The physical memory of Go maps, from the program's own bytes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Write the output to FILE instead of stdout (report: the HTML page,
    /// mapscope-report.html unless given).
    #[arg(short = 'o', long = "output", value_name = "FILE", global = true)]
    output: Option<PathBuf>,
    /// Colour in text output: auto is on for a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, global = true, default_value_t = output::ColorChoice::Auto)]
    color: output::ColorChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Go version, platform, experiments, map variant, symbols and counts.
    Info {
        exe: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Offsets, sizes, padding and cache lines of the runtime's map structures
    /// and of every map type's bucket or group.
    Layout {
        exe: PathBuf,
        /// Only these map types (`map[string]int`), runtime structures, or struct types (`main.Padded`).
        types: Vec<String>,
        /// Print what differs from another executable's layouts.
        #[arg(long, value_name = "OTHER_EXE")]
        compare: Option<PathBuf>,
        /// With --compare: at most this many difference lines (default 40; 0 = all).
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        common: Common,
    },
    /// Every map found in a core dump or live process (globals, from DWARF).
    Maps {
        #[command(flatten)]
        target: Target,
        /// CORE (omit with --pid).
        #[arg(value_name = "CORE", num_args = 0..=1)]
        args: Vec<String>,
        /// Only the global map variables DWARF names (quick; no heap walk).
        #[arg(long)]
        globals: bool,
        /// Order of the census.
        #[arg(long, value_enum, default_value = "bytes")]
        sort: cmd::maps::SortKey,
        /// Maps listed in text output (0: all).
        #[arg(long, default_value_t = 50)]
        top: usize,
        /// Also write the census as a gzipped pprof profile (go tool pprof FILE).
        #[arg(long, value_name = "FILE")]
        pprof: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Map operations in the machine code: calls to the runtime's map
    /// functions (with the map type) and those functions, annotated.
    Disasm {
        exe: PathBuf,
        /// Only this function (full name, substring, or glob with `*`/`?`).
        #[arg(long = "func", value_name = "F")]
        func: Option<String>,
        /// Instruction text: `intel` (as `go tool objdump -gnu`) or `go`
        /// (Go's assembler syntax, as `go tool objdump`; amd64 only).
        #[arg(long, value_enum, default_value = "intel")]
        syntax: cmd::disasm::SyntaxArg,
        #[command(flatten)]
        common: Common,
    },
    /// One map's header, entries, statistics and (with --physical) buckets or groups.
    Show {
        #[command(flatten)]
        target: Target,
        /// [CORE] MAP: the core (omit with --pid), then a global (`main.Handlers`) or `0xADDR:map[K]V`.
        #[arg(value_name = "CORE|MAP", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// List every bucket or group with its tag bytes and slot addresses.
        #[arg(long)]
        physical: bool,
        /// At most this many entries, and with --physical buckets or groups
        /// (text: 100 entries and 64 buckets/groups unless given; JSON: all; 0: all).
        #[arg(long)]
        limit: Option<usize>,
        /// `dot`: a Graphviz diagram of the header and every bucket or group
        /// (the first 128 of a big map).
        #[arg(long, value_enum)]
        format: Option<cmd::show::Format>,
        /// Bytes of one string printed; a longer one ends in `…` (text also
        /// gives its length). Bounds the output whatever a corrupt length says.
        #[arg(long, value_name = "N", default_value_t = cmd::show::DEFAULT_MAX_STRING)]
        max_string: u64,
        #[command(flatten)]
        common: Common,
    },
    /// The addressing path of one key (hash, bucket or group, slot, key, elem),
    /// proved with the target's own hash; or with --all every entry's placement.
    Path(cmd::path::PathArgs),
    /// What changed between two snapshots: two cores, or a core and --pid P.
    /// Without MAP the census of both, map by map; with MAP each map's
    /// entries added, removed and changed, and (one process) its physical changes.
    Diff {
        /// The Go executable of both snapshots.
        exe: PathBuf,
        /// A B [MAP...] (with --pid: A [MAP...]); MAP is a global, an owner
        /// expression or 0xADDR[:TYPE].
        #[arg(value_name = "A B|MAP", num_args = 1.., required = true)]
        args: Vec<String>,
        /// The second snapshot is this live process, now (read, never written).
        #[arg(long)]
        pid: Option<u32>,
        /// Stop the process while it is read; it is always resumed.
        #[arg(long, requires = "pid")]
        pause: bool,
        /// At most this many entries (text: in all; JSON: per list) or census
        /// rows (text: 100 unless given; JSON: all; 0: all).
        #[arg(long)]
        limit: Option<usize>,
        /// Without MAP: write both censuses as pprof profiles, BEFORE,AFTER
        /// (go tool pprof -diff_base BEFORE AFTER).
        #[arg(long, value_name = "BEFORE,AFTER", value_delimiter = ',')]
        pprof: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// A live map compared snapshot to snapshot: one line per event (entries
    /// added and removed, growth, evacuation, table splits, clear).
    Watch(cmd::watch::WatchArgs),
    /// Shell completions, e.g. `mapscope completions bash > ~/.local/share/bash-completion/completions/mapscope`.
    Completions { shell: clap_complete::Shell },
    /// The manual page in roff: `mapscope man > mapscope.1 && man ./mapscope.1`.
    Man,
    /// One self-contained HTML page: the census, and for each map drawn its
    /// header, every slot, statistics and each entry's addressing path.
    Report(cmd::report::ReportArgs),
    /// Runs the main job on the fixture bundled in the repository.
    Demo {
        /// Which fixture variant (`go1.22`, `go1.27-split`, …; default go1.26).
        #[arg(long)]
        fixture: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
pub struct Target {
    /// The Go executable (`-`: the one named in the core's notes or /proc/PID/exe).
    exe: std::path::PathBuf,
    /// A live process, read without writing (instead of a core file).
    #[arg(long)]
    pid: Option<u32>,
    /// Stop the process for a consistent snapshot; it is always resumed.
    #[arg(long, requires = "pid")]
    pause: bool,
    /// Decode with a type named as `0xADDR:TYPE` even when the map's memory
    /// contradicts it (the output marks the type unproven).
    #[arg(long)]
    force: bool,
}

#[derive(Args, Clone)]
pub struct Common {
    /// One JSON document on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Override Go version detection (`go1.22`, `go1.24-noswissmap`).
    #[arg(long, global = true)]
    go_version: Option<String>,
    /// Keep --go-version even where the binary's own build info,
    /// runtime.buildVersion or runtime functions contradict it.
    #[arg(long, global = true, requires = "go_version")]
    force_go_version: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The report names its own HTML file with -o; everything else writes its
    // output there instead of stdout.
    let sink = match cli.command {
        Command::Report(_) => None,
        _ => cli.output.as_deref(),
    };
    if let Err(e) = output::configure(sink, cli.color) {
        return output::finish(Err(e));
    }
    let result = match cli.command {
        Command::Info { exe, common } => cmd::info::run(&exe, &common),
        Command::Layout {
            exe,
            types,
            compare,
            limit,
            common,
        } => cmd::layout::run(&exe, &types, compare.as_deref(), limit, &common),
        Command::Maps {
            target,
            args,
            globals,
            sort,
            top,
            pprof,
            common,
        } => cmd::target::split(&target, &args, 0).and_then(|(core, _)| {
            let census = cmd::maps::CensusArgs {
                globals,
                sort,
                top,
                pprof: pprof.as_deref(),
            };
            cmd::maps::run(&target, core, &census, &common)
        }),
        Command::Show {
            target,
            args,
            physical,
            limit,
            format,
            max_string,
            mut common,
        } => cmd::target::split(&target, &args, 1).and_then(|(core, rest)| {
            let map = rest.first().map(String::as_str).unwrap_or_default();
            common.json |= format == Some(cmd::show::Format::Json);
            let show = cmd::show::ShowArgs {
                map,
                physical,
                limit,
                dot: format == Some(cmd::show::Format::Dot),
                max_string,
            };
            cmd::show::run(&target, core, &show, &common)
        }),
        Command::Path(args) => cmd::path::run(&args),
        Command::Report(args) => cmd::report::run(&args, cli.output.as_deref()),
        Command::Disasm {
            exe,
            func,
            syntax,
            common,
        } => cmd::disasm::run(&exe, func.as_deref(), syntax, &common),
        Command::Diff {
            exe,
            args,
            pid,
            pause,
            limit,
            pprof,
            common,
        } => cmd::diff::run(
            &cmd::diff::DiffArgs {
                exe: &exe,
                pid,
                pause,
                args: &args,
                limit,
                pprof: &pprof,
            },
            &common,
        ),
        Command::Watch(args) => cmd::watch::run(&args),
        Command::Demo { fixture, common } => cmd::demo::run(fixture.as_deref(), &common),
        Command::Completions { shell } => {
            let mut out = output::stdout();
            clap_complete::generate(shell, &mut Cli::command(), "mapscope", &mut out);
            std::io::Write::flush(&mut out).map_err(Into::into)
        }
        Command::Man => {
            let mut out = output::stdout();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(Into::into)
        }
    };
    output::finish(result)
}
