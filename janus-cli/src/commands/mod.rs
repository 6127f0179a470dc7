//! One module per command.

pub mod admin;
pub mod call;
pub mod info;
pub mod load;
pub mod ping;
pub mod raw;
pub mod watch;
pub mod watch_evh;
