//! Where results go: stdout (a closed pipe ends the program quietly) and
//! exit codes: 0 ok, 1 not found, 2 error (nothing or little was output),
//! 3 partial (the output is written and its errors say what is wrong).

use std::io::{self, Write};
use std::process::ExitCode;

/// The output is written, but its `errors` say it is incomplete or doubtful
/// (a walk that stopped at a structural error, a header whose count is not
/// what its buckets hold): exit code 3, and nothing more is printed — the
/// errors are in the output already.
#[derive(Debug, thiserror::Error)]
#[error("{0} error(s) in the output")]
pub struct Partial(pub usize);

/// `Ok` when `errors` is 0, else [`Partial`].
pub fn partial(errors: usize) -> anyhow::Result<()> {
    if errors == 0 {
        Ok(())
    } else {
        Err(Partial(errors).into())
    }
}

/// An error that means "looked, and it is not there": exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

/// What `--limit` means in every command: absent, the command's default
/// for its output (text is bounded so that a 1M-entry map does not flood a
/// terminal; JSON is complete); 0, no bound; N, at most N.
pub fn limit(given: Option<usize>, default: usize) -> usize {
    match given {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => default,
    }
}

/// The line that closes a bounded text listing: what was left out and how to
/// see it.
pub fn more(out: &mut impl Write, indent: &str, left_out: u64, one: &str, many: &str) -> io::Result<()> {
    more_by(out, indent, left_out, (one, many), "--limit")
}

/// [`more`] for a listing bounded by another flag (`maps --top`).
pub fn more_by(
    out: &mut impl Write,
    indent: &str,
    left_out: u64,
    (one, many): (&str, &str),
    flag: &str,
) -> io::Result<()> {
    if left_out == 0 {
        return Ok(());
    }
    let noun = if left_out == 1 { one } else { many };
    writeln!(
        out,
        "{indent}… {left_out} more {noun} ({flag} N for more, {flag} 0 for all)"
    )
}

/// Text from the target made safe for a terminal where it was not rendered
/// with `%q` (the diff keeps `fmt.Sprint` text): control characters, DEL,
/// C1 controls and bidi overrides become Go escapes (`\x1b`, `\u202e`), so
/// a hostile core cannot move the cursor or reorder a line.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if unsafe_char(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `1 bucket`, `2 buckets`: counts in words, never `1 bucket(s)`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Whether text output is coloured (`--color`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (no-color.org).
    #[default]
    Auto,
    Always,
    Never,
}

/// Where this run's output goes, decided once in `main`.
struct Sink {
    /// `-o FILE`, opened (and truncated) once; every writer is a clone of
    /// its descriptor, so writers share one offset and append in turn.
    file: Option<std::fs::File>,
    color: bool,
}

static SINK: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();

/// Sends the output to `file` (stdout without one) and decides colour:
/// never into a file or a pipe unless `always`.
pub fn configure(file: Option<&std::path::Path>, color: ColorChoice) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::IsTerminal as _;
    let file = file
        .map(|p| std::fs::File::create(p).with_context(|| format!("cannot write the output to {}", p.display())))
        .transpose()?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => file.is_none() && !no_color && io::stdout().is_terminal(),
    };
    let _ = SINK.set(Sink { file, color });
    Ok(())
}

/// Whether text may carry ANSI colour (see [`configure`]).
pub fn color() -> bool {
    SINK.get().is_some_and(|s| s.color)
}

/// A writer for this run's output: stdout, or the `-o` file.
pub type Out = io::BufWriter<Box<dyn Write>>;

pub fn stdout() -> Out {
    let sink: Box<dyn Write> = match SINK.get().and_then(|s| s.file.as_ref()).map(std::fs::File::try_clone) {
        Some(Ok(f)) => Box::new(f),
        // A descriptor that cannot be cloned is reported at the first write.
        Some(Err(e)) => Box::new(Failed(Some(e))),
        None => Box::new(io::stdout().lock()),
    };
    io::BufWriter::with_capacity(1 << 16, sink)
}

/// A writer whose first write returns the error that made it.
struct Failed(Option<io::Error>);

impl Write for Failed {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("the output file could not be opened")))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// SGR colours of the physical view, one per slot state, so that full,
/// empty, deleted and evacuated slots are told apart at a glance.
pub fn paint(text: &str, state: &str) -> String {
    if !color() {
        return text.to_string();
    }
    let sgr = match state {
        "full" => "32",                                         // green
        "deleted" | "emptyOne" => "33",                         // yellow: a tombstone
        "empty" | "emptyRest" => "2",                           // dim
        "evacuatedX" | "evacuatedY" | "evacuatedEmpty" => "36", // cyan: moved by a grow
        _ => "31",                                              // red: not a valid state
    };
    format!("\x1b[{sgr}m{text}\x1b[0m")
}

pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>().and_then(|j| j.io_error_kind()) == Some(io::ErrorKind::BrokenPipe)
    })
}

pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Partial>().is_some() => ExitCode::from(3),
        Err(e) => {
            eprintln!("mapscope: {}", message(&e));
            if e.downcast_ref::<NotFound>().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// The error and its causes on one line, each said once: a library error
/// that already quotes its cause (`cannot read F: No such file`) or a
/// context that the cause repeats (`F` over `cannot read F: …`) is not
/// printed twice.
pub fn message(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in e.chain().map(|c| c.to_string()) {
        match parts.last() {
            Some(last) if last.contains(&part) => {}
            Some(last) if part.contains(last.as_str()) => {
                parts.pop();
                parts.push(part);
            }
            _ => parts.push(part),
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let inner = anyhow::Error::new(io).context("cannot read /x/mapfix: No such file or directory (os error 2)");
        let e = inner.context("/x/mapfix");
        assert_eq!(
            super::message(&e),
            "cannot read /x/mapfix: No such file or directory (os error 2)"
        );
        let e = anyhow::anyhow!("0x1234 is not mapped").context("reading the map header at 0x1234");
        assert_eq!(
            super::message(&e),
            "reading the map header at 0x1234: 0x1234 is not mapped"
        );
    }

    #[test]
    fn terminal_safe_escapes_what_drives_a_terminal() {
        assert_eq!(super::terminal_safe("plain → text\tok"), "plain → text\tok");
        assert_eq!(super::terminal_safe("a\x1b[2Jb\nc\u{9b}d"), "a\\x1b[2Jb\\nc\\x9bd");
        assert_eq!(super::terminal_safe("x\u{202e}y\u{7f}"), "x\\u202ey\\x7f");
    }
}
