//! Go version strings: `go1.24.11`, `go1.24.11 X:noswissmap` (before 1.26),
//! `go1.27.3-X:mapsplitgroup` (1.26 on), `go1.22rc1`, `devel go1.27-abc…`.

use super::error::{BinaryError, Result};

/// A parsed Go release number plus the experiments named in the version string.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GoVersion {
    /// The string as found (or as given by the user).
    pub raw: String,
    pub major: u32,
    pub minor: u32,
    /// 0 for `go1.22rc1` or `go1.21`.
    pub patch: u32,
    /// Experiments from the `X:` suffix, in order, without the `X:` prefix.
    pub experiments: Vec<String>,
}

impl GoVersion {
    /// Parses what `runtime.Version()` returns and what `go version` prints;
    /// also accepts a bare `1.24.11` from a user.
    pub fn parse(s: &str) -> Result<GoVersion> {
        let bad = || BinaryError::BadVersion(s.to_string());
        let t = s.trim();
        let t = t.strip_prefix("devel ").unwrap_or(t);
        let t = t.strip_prefix("go").unwrap_or(t);
        // The release part ends at the first space or the 1.26+ "-X:" marker;
        // anything after "-" that is not "X:" (devel hashes) is dropped.
        let (release, rest) = match t.find([' ', '-']) {
            Some(i) => (t.get(..i).unwrap_or(""), t.get(i + 1..).unwrap_or("")),
            None => (t, ""),
        };
        let experiments = rest
            .split_whitespace()
            .find_map(|w| w.strip_prefix("X:"))
            .map(|x| x.split(',').filter(|e| !e.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let mut nums = release.split('.');
        let major: u32 = nums.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let minor_s = nums.next().ok_or_else(bad)?;
        let digits = minor_s.find(|c: char| !c.is_ascii_digit()).unwrap_or(minor_s.len());
        let minor: u32 = minor_s.get(..digits).and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let patch = match nums.next() {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => 0,
        };
        Ok(GoVersion {
            raw: s.to_string(),
            major,
            minor,
            patch,
            experiments,
        })
    }

    /// Go 1.N or later (major 1 is the only major there is).
    pub fn at_least(&self, minor: u32) -> bool {
        self.major > 1 || (self.major == 1 && self.minor >= minor)
    }

    /// `go1.24.11`, without experiments.
    pub fn release(&self) -> String {
        if self.patch == 0 {
            format!("go{}.{}", self.major, self.minor)
        } else {
            format!("go{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn both_experiment_suffix_formats() {
        // Formats printed by `go version` for 1.24 and 1.27 builds.
        let v = GoVersion::parse("go1.24.11 X:noswissmap").unwrap();
        assert_eq!((v.minor, v.patch), (24, 11));
        assert_eq!(v.experiments, ["noswissmap"]);
        let v = GoVersion::parse("go1.27.3-X:mapsplitgroup").unwrap();
        assert_eq!((v.minor, v.patch), (27, 3));
        assert_eq!(v.experiments, ["mapsplitgroup"]);
        let v = GoVersion::parse("go1.22rc1").unwrap();
        assert_eq!((v.minor, v.patch), (22, 0));
        assert!(GoVersion::parse("gox").is_err());
        assert!(GoVersion::parse("").is_err());
    }
}
