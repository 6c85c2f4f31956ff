//! Grammars of single fields: small pure functions, each unit-tested.

pub(crate) mod addr;
pub(crate) mod num;
pub(crate) mod route;
