//! Exit codes, the same for every command.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success: the answer is yes, or the report was written |
//! | 1 | a negative answer: a check found a mismatch, a rebuild differs, there is no path |
//! | 2 | an error: bad input, a file that cannot be read, a failed build |

/// Success.
pub const SUCCESS: u8 = 0;
/// A negative answer (a mismatch, a difference, no path).
pub const NEGATIVE: u8 = 1;
/// An error: the question could not be answered.
pub const ERROR: u8 = 2;
