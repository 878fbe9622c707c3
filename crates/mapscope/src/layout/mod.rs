//! Layouts: the runtime's map structures per map runtime (the one table of
//! them, [`runtime`]) and the report form of any struct layout — fields,
//! padding holes and cache lines ([`report`]).

pub mod report;
pub mod runtime;
pub mod types;

pub use report::{CacheLine, FieldLayout, Hole, StructLayout, CACHE_LINE};
pub use runtime::{FieldSpec, RuntimeLayout, StructSpec};
