//! The request targets `abovo serve` parses from any client: never a
//! panic, and what parses as a question carries no control character, no
//! `.` or `..` path component and no text longer than the bound.
#![no_main]
use abovo_serve::route::{MAX_TEXT, Question, Route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    if let Route::Api(
        Question::Seeds(t)
        | Question::Dependents(t)
        | Question::Closure(t)
        | Question::Search(t)
        | Question::Derivation(t)
        | Question::SeedsAgainst(t),
    ) = Route::parse(target)
    {
        assert!(t.len() <= MAX_TEXT);
        assert!(!t.chars().any(char::is_control));
        if !target.contains('?') {
            assert!(!t.split('/').any(|c| c == "." || c == ".."));
        }
    }
});
