//! Which map implementation a binary uses (go-maps.md §1): from the version
//! and experiments, cross-checked with what the binary itself contains.

use super::maptype::{MapDescLayout, CLASSIC, SWISS, SWISS_127};
use super::version::GoVersion;

/// The three physical map layouts mapscope decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum MapVariant {
    /// `runtime.hmap` + buckets: ≤1.23, and 1.24/1.25 with `noswissmap`.
    #[serde(rename = "classic")]
    Classic,
    /// `internal/runtime/maps.Map` with interleaved slots: 1.24+.
    #[serde(rename = "swiss")]
    Swiss,
    /// Swiss with split key/elem arrays: 1.27 with `mapsplitgroup`.
    #[serde(rename = "swiss-split")]
    SwissSplit,
}

impl MapVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            MapVariant::Classic => "classic",
            MapVariant::Swiss => "swiss",
            MapVariant::SwissSplit => "swiss-split",
        }
    }

    /// From the release and the experiments it was built with.
    pub fn from_version(v: &GoVersion, experiments: &[String]) -> MapVariant {
        let has = |e: &str| experiments.iter().any(|x| x == e);
        if !v.at_least(24) || (!v.at_least(26) && has("noswissmap")) {
            MapVariant::Classic
        } else if v.at_least(27) && has("mapsplitgroup") {
            MapVariant::SwissSplit
        } else {
            MapVariant::Swiss
        }
    }
}

/// Function names only one implementation has (pclntab survives stripping).
pub(crate) const CLASSIC_MARKER: &str = "runtime.evacuate";
pub(crate) const SWISS_MARKER: &str = "internal/runtime/maps.(*Map).putSlotSmall";

/// How the variant was decided, and whether the independent signals agree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VariantDetection {
    /// The answer: the override, else the version, else the structure.
    pub variant: Option<MapVariant>,
    pub from_override: Option<MapVariant>,
    pub from_version: Option<MapVariant>,
    /// From marker functions and, for 1.27, a map type descriptor's strides.
    pub from_structure: Option<MapVariant>,
}

impl VariantDetection {
    /// False when version and structure disagree (a mislabelled or unusual build).
    pub fn consistent(&self) -> bool {
        match (self.from_version, self.from_structure) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

/// The map type descriptor layout for a variant: one place that ties
/// variants and versions to [`super::maptype`]'s table.
pub(crate) fn desc_layout(
    variant: MapVariant,
    version: Option<&GoVersion>,
    go127_moduledata: bool,
) -> &'static MapDescLayout {
    match variant {
        MapVariant::Classic => &CLASSIC,
        MapVariant::SwissSplit => &SWISS_127,
        MapVariant::Swiss => {
            if version.map_or(go127_moduledata, |v| v.at_least(27)) {
                &SWISS_127
            } else {
                &SWISS
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn version_matrix() {
        let v = |s: &str| GoVersion::parse(s).unwrap();
        let f = |s: &str| {
            let v = v(s);
            MapVariant::from_version(&v, &v.experiments)
        };
        assert_eq!(f("go1.19.8"), MapVariant::Classic);
        assert_eq!(f("go1.23.9"), MapVariant::Classic);
        assert_eq!(f("go1.24.11"), MapVariant::Swiss);
        assert_eq!(f("go1.24.11 X:noswissmap"), MapVariant::Classic);
        assert_eq!(f("go1.25.5 X:noswissmap"), MapVariant::Classic);
        assert_eq!(f("go1.26.6"), MapVariant::Swiss);
        assert_eq!(f("go1.27.3"), MapVariant::Swiss);
        assert_eq!(f("go1.27.3-X:mapsplitgroup"), MapVariant::SwissSplit);
    }
}
