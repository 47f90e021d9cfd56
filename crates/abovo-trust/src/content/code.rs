//! The vocabulary of compiled code: what kind of compiled file a member is
//! ([`CodeKind`]) and its broad class ([`CodeClass`]: native machine code or
//! bytecode).
//!
//! [`super::magic`] recognises a stream and answers with a [`Code`]: the
//! kind, for counting and filtering, and a description for people (`ELF
//! 32-bit LSB executable, Intel 80386`). The kinds follow what a person
//! auditing an archive asks: is it a program, a library or an object file,
//! and for which machine or virtual machine.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Native machine code or bytecode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeClass {
    /// Machine code for a processor: ELF, PE, Mach-O, static libraries.
    Native,
    /// Code for a virtual machine or a language runtime (JVM, CPython,
    /// OCaml, Guile, Emacs, BEAM, WebAssembly …), and the compiled
    /// interface files of compilers (GHC `.hi`, OCaml `.cmi`): artefacts a
    /// compiler made, not text a person wrote.
    Bytecode,
}

impl CodeClass {
    /// The name in reports (`native`, `bytecode`).
    pub fn name(self) -> &'static str {
        match self {
            CodeClass::Native => "native",
            CodeClass::Bytecode => "bytecode",
        }
    }
}

macro_rules! code_kinds {
    ($($(#[$doc:meta])* $variant:ident => $id:literal, $label:literal, $class:ident;)*) => {
        /// What kind of compiled file a member is. The JSON name (`elf-executable`)
        /// is stable; [`CodeKind::label`] is for people.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum CodeKind {
            $($(#[$doc])* #[serde(rename = $id)] $variant,)*
        }

        impl CodeKind {
            /// Every kind, in report order (native first).
            pub const ALL: &'static [CodeKind] = &[$(CodeKind::$variant,)*];

            /// The stable name used in JSON (`elf-executable`).
            pub fn id(self) -> &'static str {
                match self { $(CodeKind::$variant => $id,)* }
            }

            /// A short label for people (`ELF executable`).
            pub fn label(self) -> &'static str {
                match self { $(CodeKind::$variant => $label,)* }
            }

            /// Native code or bytecode.
            pub fn class(self) -> CodeClass {
                match self { $(CodeKind::$variant => CodeClass::$class,)* }
            }
        }
    };
}

code_kinds! {
    /// An ELF executable (`ET_EXEC`, or a position-independent `ET_DYN`
    /// with a program interpreter).
    ElfExecutable => "elf-executable", "ELF executable", Native;
    /// An ELF shared library (`ET_DYN` without a program interpreter).
    ElfSharedLibrary => "elf-shared-library", "ELF shared library", Native;
    /// An ELF relocatable object (`ET_REL`, a `.o`).
    ElfObject => "elf-object", "ELF object", Native;
    /// An ELF core dump: a memory image of a process.
    ElfCore => "elf-core", "ELF core dump", Native;
    /// An ELF file of another type.
    ElfOther => "elf-other", "ELF file", Native;
    /// A static library: an `ar` archive of object files (the objects are
    /// counted in it, not listed one by one).
    StaticLibrary => "static-library", "static library (ar)", Native;
    /// A 512-byte x86 boot sector: real-mode machine code that a PC's
    /// firmware loads and runs (the boot signature `55 AA` ends it).
    BootSector => "boot-sector", "x86 boot sector", Native;
    /// A Windows PE executable.
    PeExecutable => "pe-executable", "PE executable", Native;
    /// A Windows PE dynamic-link library.
    PeDll => "pe-dll", "PE DLL", Native;
    /// An MS-DOS executable (or a PE whose header lies beyond what was read).
    DosExecutable => "dos-executable", "DOS/Windows executable", Native;
    /// A Mach-O executable.
    MachoExecutable => "macho-executable", "Mach-O executable", Native;
    /// A Mach-O dynamic library.
    MachoDylib => "macho-dylib", "Mach-O dynamic library", Native;
    /// A Mach-O object file.
    MachoObject => "macho-object", "Mach-O object", Native;
    /// A Mach-O file of another type (bundle, core …).
    MachoOther => "macho-other", "Mach-O file", Native;
    /// A Mach-O universal (fat) binary.
    MachoUniversal => "macho-universal", "Mach-O universal binary", Native;
    /// A JVM class file.
    JavaClass => "java-class", "Java class", Bytecode;
    /// Android's Dalvik bytecode.
    DalvikDex => "dalvik-dex", "Dalvik executable (.dex)", Bytecode;
    /// CPython bytecode (`.pyc`, `.pyo`).
    PythonBytecode => "python-bytecode", "Python bytecode", Bytecode;
    /// An OCaml bytecode executable (`Caml1999X` trailer), such as the
    /// `boot/ocamlc` of OCaml's own sources.
    OcamlExecutable => "ocaml-bytecode-executable", "OCaml bytecode executable", Bytecode;
    /// An OCaml bytecode object or library (`.cmo`, `.cma`).
    OcamlObject => "ocaml-bytecode-object", "OCaml bytecode object", Bytecode;
    /// Other OCaml compiler output: compiled interfaces and native-code
    /// information (`.cmi`, `.cmx`, `.cmxa`, `.cmt`, `.cmxs` headers).
    OcamlCompiled => "ocaml-compiled-interface", "OCaml compiled interface", Bytecode;
    /// Guile object code: `GOOF` (Guile 2.0) or Guile's own ELF (2.2 and
    /// later; not a native program).
    GuileObject => "guile-object", "Guile object (.go)", Bytecode;
    /// Emacs Lisp bytecode (`.elc`).
    EmacsBytecode => "emacs-bytecode", "Emacs Lisp bytecode (.elc)", Bytecode;
    /// Erlang BEAM bytecode.
    ErlangBeam => "erlang-beam", "Erlang BEAM", Bytecode;
    /// A WebAssembly module.
    WebAssembly => "webassembly", "WebAssembly module", Bytecode;
    /// LLVM bitcode.
    LlvmBitcode => "llvm-bitcode", "LLVM bitcode", Bytecode;
    /// Lua bytecode.
    LuaBytecode => "lua-bytecode", "Lua bytecode", Bytecode;
    /// Chez Scheme compiled code (boot or fasl files).
    ChezScheme => "chez-scheme", "Chez Scheme compiled code", Bytecode;
    /// Racket compiled code (`.zo`).
    RacketZo => "racket-zo", "Racket compiled code (.zo)", Bytecode;
    /// A GHC interface file (`.hi`).
    GhcInterface => "ghc-interface", "GHC interface (.hi)", Bytecode;
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl CodeKind {
    /// Whether a file of this kind is an object that a static library
    /// (an `ar` archive) is made of.
    pub fn is_object(self) -> bool {
        matches!(
            self,
            CodeKind::ElfObject | CodeKind::MachoObject | CodeKind::LlvmBitcode
        )
    }
}

/// Compiled code, as recognised: its kind and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The kind.
    pub kind: CodeKind,
    /// What it is, for people (`ELF 32-bit LSB executable, Intel 80386`).
    pub what: String,
}

impl Code {
    /// Compiled code of `kind`, described by `what`.
    pub fn new(kind: CodeKind, what: impl Into<String>) -> Code {
        Code {
            kind,
            what: what.into(),
        }
    }
}

/// Whether the last bytes of a stream are the trailer of an OCaml bytecode
/// executable, and if so which bytecode version (`Caml1999X023` → 23).
///
/// The trailer is the number of sections (a 32-bit big-endian integer), then
/// the 12-byte magic `Caml1999X` and three digits. Before it comes the
/// section table: 8 bytes per section, a 4-letter upper-case name (`CODE`,
/// `DATA`, `PRIM`, `SYMB` …) and a 32-bit length. `tail` holds the last
/// bytes of the stream (as many as were kept) and `size` its full length;
/// every section the tail holds must have an upper-case name and the
/// lengths must fit in the file, so that a text file that merely ends with
/// the magic is not taken for bytecode.
pub fn ocaml_trailer(tail: &[u8], size: u64) -> Option<u32> {
    if tail.len() < 16 {
        return None;
    }
    let end = &tail[tail.len() - 12..];
    if &end[..9] != b"Caml1999X" || !end[9..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let version = end[9..]
        .iter()
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    let count_at = tail.len() - 16;
    let count = u32::from_be_bytes(tail[count_at..count_at + 4].try_into().ok()?);
    if !(1..=32).contains(&count) {
        return None;
    }
    let table = 8 * u64::from(count);
    if 16 + table > size {
        return None;
    }
    let mut total = 16 + table;
    let mut at = count_at;
    for _ in 0..count {
        if at < 8 {
            // The tail kept is shorter than the table: what was seen passed.
            break;
        }
        at -= 8;
        let entry = &tail[at..at + 8];
        if !entry[..4].iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        total += u64::from(u32::from_be_bytes(entry[4..8].try_into().ok()?));
    }
    (total <= size).then_some(version)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    /// An OCaml bytecode trailer after `code` bytes of code.
    fn trailer(code: &[u8], sections: &[(&[u8; 4], u32)]) -> Vec<u8> {
        let mut b = code.to_vec();
        for (name, len) in sections {
            b.extend_from_slice(*name);
            b.extend_from_slice(&len.to_be_bytes());
        }
        b.extend_from_slice(&(sections.len() as u32).to_be_bytes());
        b.extend_from_slice(b"Caml1999X023");
        b
    }

    #[test]
    fn ocaml_trailer_is_checked_structurally() {
        let b = trailer(&[0u8; 100], &[(b"CODE", 60), (b"DATA", 40)]);
        assert_eq!(ocaml_trailer(&b, b.len() as u64), Some(23));
        // Sections longer than the file: not bytecode.
        let b = trailer(&[0u8; 10], &[(b"CODE", 60), (b"DATA", 40)]);
        assert_eq!(ocaml_trailer(&b, b.len() as u64), None);
        // A lower-case section name: not bytecode.
        let b = trailer(&[0u8; 100], &[(b"code", 60)]);
        assert_eq!(ocaml_trailer(&b, b.len() as u64), None);
        // Text that ends with the magic.
        let text = b"see the constant Caml1999X023";
        assert_eq!(ocaml_trailer(text, text.len() as u64), None);
        assert_eq!(ocaml_trailer(b"Caml1999X023", 12), None);
    }

    #[test]
    fn kinds_have_unique_ids_and_classes() {
        let mut ids: Vec<&str> = CodeKind::ALL.iter().map(|k| k.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CodeKind::ALL.len());
        for k in CodeKind::ALL {
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{}\"", k.id()));
        }
        assert_eq!(CodeKind::StaticLibrary.class(), CodeClass::Native);
        assert_eq!(CodeKind::GuileObject.class(), CodeClass::Bytecode);
    }
}
