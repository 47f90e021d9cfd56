//! Recognising a file by its first bytes: executable code, containers
//! (archives and compression), and well-known non-executable data.
//!
//! Everything here looks only at a prefix (the "head") and sometimes the
//! name, never at the whole file, so that the scanner can decide what to do
//! with a stream before reading it. Magic numbers that are weak on their own
//! (two bytes, or a value that ordinary text can take) are only accepted with
//! a structural check or a matching file name, and the reason is written next
//! to each check. One format is recognised by its end instead: an OCaml
//! bytecode executable has no header (OCaml's own `boot/ocamlc` starts
//! straight with code) but ends with the `Caml1999X` trailer, which the
//! scanner checks once a stream is read ([`super::code::ocaml_trailer`]).

use super::code::{Code, CodeKind};

/// What the head of a stream says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// Executable code or a compiled object: its kind and a description
    /// (`ELF 32-bit LSB executable, Intel 80386`).
    Code(Code),
    /// A compression layer around one stream.
    Compressed(Compression),
    /// A container of named members.
    Container(Container),
    /// Recognised data that is not executable code (`PNG image`).
    Data(&'static str),
    /// Nothing recognised; the scanner decides between text and opaque data.
    Unrecognised,
}

/// Single-stream compression formats the scanner can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// xz, possibly several streams.
    Xz,
    /// bzip2, possibly several streams.
    Bzip2,
    /// Zstandard frames.
    Zstd,
    /// lzip members (LZMA inside a small header and trailer).
    Lzip,
    /// The legacy `.lzma` ("LZMA alone") format.
    LzmaAlone,
}

impl Compression {
    /// The conventional name (`gzip`, `xz` …).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
            Compression::Lzip => "lzip",
            Compression::LzmaAlone => "lzma",
        }
    }
}

/// Archive formats whose members the scanner visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// POSIX/GNU tar.
    Tar,
    /// zip (and jar, whl, apk …).
    Zip,
    /// Unix `ar` (static libraries, `.deb` packages).
    Ar,
}

impl Container {
    /// The conventional name.
    pub fn name(self) -> &'static str {
        match self {
            Container::Tar => "tar",
            Container::Zip => "zip",
            Container::Ar => "ar",
        }
    }
}

/// How many bytes [`sniff`] wants to see to decide: a tar header is 512
/// bytes, and an ELF file's program headers (which tell a position-
/// independent executable from a shared library) and a PE header usually
/// lie within the first few hundred bytes; 4 KiB holds them with a margin.
pub const HEAD_LEN: usize = 4096;

/// Identifies a stream from its head (up to [`HEAD_LEN`] bytes or more) and
/// its name (the last path component is enough; it may be empty).
pub fn sniff(head: &[u8], name: &str) -> Sniffed {
    let lower = name.to_ascii_lowercase();
    if let Some(c) = compression(head) {
        return Sniffed::Compressed(c);
    }
    if let Some(desc) = executable(head, &lower) {
        return Sniffed::Code(desc);
    }
    if head.starts_with(b"!<arch>\n") || head.starts_with(b"!<thin>\n") {
        return Sniffed::Container(Container::Ar);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Sniffed::Container(Container::Zip);
    }
    if is_tar_header(head) {
        return Sniffed::Container(Container::Tar);
    }
    if let Some(d) = data(head) {
        return Sniffed::Data(d);
    }
    Sniffed::Unrecognised
}

fn compression(head: &[u8]) -> Option<Compression> {
    // gzip: magic 1f 8b and method 8 (deflate), the only one defined.
    if head.len() >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 {
        return Some(Compression::Gzip);
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Some(Compression::Xz);
    }
    // bzip2: "BZh" and a block size digit 1-9, then the block magic
    // 0x314159265359 (or the end-of-stream magic for an empty stream): six
    // bytes that no text starts with.
    if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || head[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        return Some(Compression::Bzip2);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Some(Compression::Zstd);
    }
    // lzip: "LZIP" and version 1.
    if head.len() >= 6 && head.starts_with(b"LZIP") && head[4] == 1 {
        return Some(Compression::Lzip);
    }
    // .lzma: properties byte 0x5d (lc=3 lp=0 pb=2, what every encoder
    // writes), a power-of-two-ish dictionary size and a size field that is
    // either unknown (all ones) or below 2^48: strict enough that text and
    // other data do not match.
    if head.len() >= 13 && head[0] == 0x5d {
        let dict = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        let size = u64::from_le_bytes([
            head[5], head[6], head[7], head[8], head[9], head[10], head[11], head[12],
        ]);
        let dict_ok = dict >= 4096 && (dict.is_power_of_two() || (dict / 3 * 2).is_power_of_two());
        if dict_ok && (size == u64::MAX || size < (1 << 48)) {
            return Some(Compression::LzmaAlone);
        }
    }
    None
}

/// Describes executable code or compiled objects, or `None`.
fn executable(head: &[u8], lower_name: &str) -> Option<Code> {
    use CodeKind as K;
    if head.starts_with(b"\x7fELF") {
        return Some(describe_elf(head));
    }
    if head.starts_with(b"MZ") {
        if let Some(d) = describe_pe(head) {
            return Some(d);
        }
    }
    if let Some(d) = describe_macho(head) {
        return Some(d);
    }
    if head.starts_with(b"\0asm") && head.len() >= 8 && head[4..8] == [1, 0, 0, 0] {
        return Some(Code::new(K::WebAssembly, "WebAssembly module"));
    }
    if head.starts_with(b"BC\xc0\xde") || head.starts_with(&[0xde, 0xc0, 0x17, 0x0b]) {
        return Some(Code::new(K::LlvmBitcode, "LLVM bitcode"));
    }
    if head.starts_with(b"\x1bLua") {
        return Some(Code::new(K::LuaBytecode, "Lua bytecode"));
    }
    // Erlang BEAM: an IFF container "FOR1" .... "BEAM".
    if head.len() >= 12 && head.starts_with(b"FOR1") && &head[8..12] == b"BEAM" {
        return Some(Code::new(K::ErlangBeam, "Erlang BEAM bytecode"));
    }
    // Chez Scheme boot and fasl files start with four zero bytes and "chez".
    if head.starts_with(b"\0\0\0\0chez") {
        return Some(Code::new(
            K::ChezScheme,
            "Chez Scheme compiled code (boot or fasl file)",
        ));
    }
    // Racket compiled code: "#~" then a length-prefixed version string
    // (`#~\x038.2` …) and the virtual machine name.
    if head.len() >= 4
        && head.starts_with(b"#~")
        && (1..=16).contains(&head[2])
        && head[3].is_ascii_digit()
    {
        return Some(Code::new(K::RacketZo, "Racket compiled code (.zo)"));
    }
    // Emacs Lisp bytecode: ";ELC", the Emacs major version as one byte,
    // then three zero bytes (which no Lisp source has).
    if head.len() >= 8 && head.starts_with(b";ELC") && head[5..8] == [0, 0, 0] {
        return Some(Code::new(
            K::EmacsBytecode,
            format!("Emacs Lisp bytecode (Emacs {})", head[4]),
        ));
    }
    // Guile 2.0 object code: "GOOF----LE-8-2.0" (cookie, byte order, word
    // size, bytecode version).
    if head.len() >= 16
        && head.starts_with(b"GOOF-")
        && (head[..16].windows(4).any(|w| w == b"-LE-" || w == b"-BE-"))
    {
        let cookie = String::from_utf8_lossy(&head[..16]).into_owned();
        return Some(Code::new(
            K::GuileObject,
            format!("Guile 2.0 object code ({cookie})"),
        ));
    }
    // Android Dalvik: "dex\n" and a three-digit version and NUL.
    if head.len() >= 8
        && head.starts_with(b"dex\n")
        && head[4..7].iter().all(u8::is_ascii_digit)
        && head[7] == 0
    {
        return Some(Code::new(K::DalvikDex, "Dalvik executable (.dex)"));
    }
    if let Some(d) = describe_ocaml_header(head) {
        return Some(d);
    }
    // OCaml bytecode executables made with a `#!…ocamlrun` header line
    // (the trailer is checked too, at the end of the stream).
    if head.starts_with(b"#!")
        && head.windows(8).take(256).any(|w| w == b"ocamlrun")
        && head.contains(&0)
    {
        return Some(Code::new(K::OcamlExecutable, "OCaml bytecode executable"));
    }
    // GHC interface files are compiled artefacts (magic 0x1face, either
    // endianness, 32 or 64 bit).
    let hi_magic =
        head.starts_with(&[0x00, 0x01, 0xfa, 0xce]) || head.starts_with(&[0xce, 0xfa, 0x01, 0x00]);
    if hi_magic && (lower_name.contains(".hi") || lower_name.is_empty()) {
        return Some(Code::new(K::GhcInterface, "GHC interface file (compiled)"));
    }
    if let Some(d) = describe_pyc(head, lower_name) {
        return Some(d);
    }
    if let Some(d) = describe_class(head) {
        return Some(d);
    }
    None
}

/// OCaml compiler output that starts with its magic number: `Caml1999`, a
/// letter for the kind of file and three digits of format version.
fn describe_ocaml_header(head: &[u8]) -> Option<Code> {
    if head.len() < 12
        || !head.starts_with(b"Caml1999")
        || !head[9..12].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let (kind, what) = match head[8] {
        b'O' => (CodeKind::OcamlObject, "OCaml bytecode object (.cmo)"),
        b'A' => (CodeKind::OcamlObject, "OCaml bytecode library (.cma)"),
        b'I' => (CodeKind::OcamlCompiled, "OCaml compiled interface (.cmi)"),
        b'Y' | b'y' => (
            CodeKind::OcamlCompiled,
            "OCaml native-code unit information (.cmx)",
        ),
        b'Z' | b'z' => (
            CodeKind::OcamlCompiled,
            "OCaml native-code library information (.cmxa)",
        ),
        b'T' => (CodeKind::OcamlCompiled, "OCaml typed tree (.cmt, .cmti)"),
        b'D' => (CodeKind::OcamlCompiled, "OCaml plugin information (.cmxs)"),
        _ => return None,
    };
    Some(Code::new(kind, what))
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

fn u64_at(b: &[u8], at: usize, le: bool) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(if le {
        u64::from_le_bytes(s)
    } else {
        u64::from_be_bytes(s)
    })
}

/// Whether an ELF file's program headers (when the head holds them) name a
/// program interpreter (`PT_INTERP`): what tells a position-independent
/// executable from a shared library, both `ET_DYN`.
fn elf_has_interpreter(head: &[u8], wide: bool, le: bool) -> Option<bool> {
    let (phoff, entsize, count) = if wide {
        (
            u64_at(head, 32, le)?,
            u16_at(head, 54, le)?,
            u16_at(head, 56, le)?,
        )
    } else {
        (
            u64::from(u32_at(head, 28, le)?),
            u16_at(head, 42, le)?,
            u16_at(head, 44, le)?,
        )
    };
    let phoff = usize::try_from(phoff).ok()?;
    let mut found = false;
    for i in 0..usize::from(count) {
        let at = phoff.checked_add(i.checked_mul(usize::from(entsize))?)?;
        match u32_at(head, at, le) {
            Some(3) => found = true,
            Some(_) => {}
            // The table runs past what was read: no answer.
            None => return None,
        }
    }
    Some(found)
}

fn describe_elf(head: &[u8]) -> Code {
    let wide = head.get(4) == Some(&2);
    let bits = match head.get(4) {
        Some(1) => "32-bit",
        Some(2) => "64-bit",
        _ => "?-bit",
    };
    let le = head.get(5) != Some(&2);
    let order = if le { "LSB" } else { "MSB" };
    let machine_id = u16_at(head, 18, le);
    // Guile 2.2 and later write their object code as ELF for no machine
    // (EM_NONE) with the "standalone" ABI (255): Guile's own loader reads
    // it; it is bytecode, not a native program.
    if machine_id == Some(0) && head.get(7) == Some(&255) {
        return Code::new(
            CodeKind::GuileObject,
            format!("Guile object code (ELF {bits} {order}, Guile 2.2 or later)"),
        );
    }
    let (kind, role) = match u16_at(head, 16, le) {
        Some(1) => (CodeKind::ElfObject, "relocatable object"),
        Some(2) => (CodeKind::ElfExecutable, "executable"),
        Some(3) => match elf_has_interpreter(head, wide, le) {
            Some(true) => (CodeKind::ElfExecutable, "pie executable"),
            Some(false) => (CodeKind::ElfSharedLibrary, "shared object"),
            None => (
                CodeKind::ElfSharedLibrary,
                "shared object (or pie executable)",
            ),
        },
        Some(4) => (CodeKind::ElfCore, "core file"),
        _ => (CodeKind::ElfOther, "file"),
    };
    let machine = match machine_id {
        Some(0) => "no machine",
        Some(2) => "SPARC",
        Some(3) => "Intel 80386",
        Some(8) => "MIPS",
        Some(20) => "PowerPC",
        Some(21) => "PowerPC64",
        Some(22) => "IBM S/390",
        Some(40) => "ARM",
        Some(43) => "SPARC V9",
        Some(50) => "IA-64",
        Some(62) => "x86-64",
        Some(183) => "AArch64",
        Some(243) => "RISC-V",
        Some(258) => "LoongArch",
        _ => "other machine",
    };
    Code::new(kind, format!("ELF {bits} {order} {role}, {machine}"))
}

fn describe_pe(head: &[u8]) -> Option<Code> {
    // The DOS header's e_lfanew (offset 0x3c) points at "PE\0\0". Without
    // it, "MZ" alone is too weak: plenty of text starts with those letters.
    let lfanew = u32_at(head, 0x3c, true)? as usize;
    if head.get(lfanew..lfanew + 4) == Some(b"PE\0\0") {
        let machine = match u16_at(head, lfanew + 4, true) {
            Some(0x14c) => "Intel 80386",
            Some(0x8664) => "x86-64",
            Some(0x1c0) | Some(0x1c4) => "ARM",
            Some(0xaa64) => "AArch64",
            Some(0) => "any machine (.NET)",
            _ => "other machine",
        };
        // The COFF header's Characteristics: IMAGE_FILE_DLL (0x2000).
        let dll = u16_at(head, lfanew + 22, true).is_some_and(|c| c & 0x2000 != 0);
        return Some(if dll {
            Code::new(CodeKind::PeDll, format!("PE DLL (Windows), {machine}"))
        } else {
            Code::new(
                CodeKind::PeExecutable,
                format!("PE executable (Windows), {machine}"),
            )
        });
    }
    // The PE header may lie beyond the head we were given; a DOS header
    // whose header-size field is sane and which holds control bytes is
    // still an executable.
    let header_paragraphs = u16_at(head, 8, true)?;
    if (2..=64).contains(&header_paragraphs)
        && lfanew >= 0x40
        && head[..64.min(head.len())].contains(&0)
    {
        return Some(Code::new(
            CodeKind::DosExecutable,
            "DOS/Windows executable (MZ)",
        ));
    }
    None
}

fn describe_macho(head: &[u8]) -> Option<Code> {
    let magic = u32_at(head, 0, false)?;
    let thin = match magic {
        0xfeed_face => Some(("32-bit", false)),
        0xfeed_facf => Some(("64-bit", false)),
        0xcefa_edfe => Some(("32-bit", true)),
        0xcffa_edfe => Some(("64-bit", true)),
        _ => None,
    };
    if let Some((bits, le)) = thin {
        let (kind, role) = match u32_at(head, 12, le) {
            Some(1) => (CodeKind::MachoObject, "object"),
            Some(2) => (CodeKind::MachoExecutable, "executable"),
            Some(6) => (CodeKind::MachoDylib, "dynamic library"),
            Some(8) => (CodeKind::MachoOther, "bundle"),
            _ => (CodeKind::MachoOther, "file"),
        };
        return Some(Code::new(kind, format!("Mach-O {bits} {role}")));
    }
    // Fat (universal) binaries share CAFEBABE with JVM class files. A class
    // file has its major version (45 and up) at bytes 6-7; a fat header has
    // the number of architectures there, which is small. `file` uses the
    // same test.
    if magic == 0xcafe_babe || magic == 0xcafe_babf {
        let count = u32_at(head, 4, false)?;
        if (1..30).contains(&count) {
            return Some(Code::new(
                CodeKind::MachoUniversal,
                format!("Mach-O universal binary with {count} architectures"),
            ));
        }
    }
    None
}

fn describe_class(head: &[u8]) -> Option<Code> {
    if u32_at(head, 0, false)? != 0xcafe_babe {
        return None;
    }
    let major = u16_at(head, 6, false)?;
    if major >= 45 {
        let java = if major >= 49 {
            format!("Java {}", major - 44)
        } else {
            "Java 1.x".to_owned()
        };
        return Some(Code::new(
            CodeKind::JavaClass,
            format!("JVM class file (version {major}, {java})"),
        ));
    }
    None
}

fn describe_pyc(head: &[u8], lower_name: &str) -> Option<Code> {
    // A .pyc starts with a two-byte version magic and "\r\n". Python 3's
    // magics are 3000-3999 (second byte 0x0b-0x0f, a control character no
    // text starts a line with), Python 2's are 20121 and 50823-62211 (second
    // byte above 0x7f). Text lines such as "ab\r\n" fall outside both.
    if head.len() < 4 || head[2..4] != *b"\r\n" {
        return None;
    }
    let magic = u16::from_le_bytes([head[0], head[1]]);
    let py3 = (3000..4000).contains(&magic);
    let py2 = magic == 20121 || (50823..=62211).contains(&magic);
    let named = lower_name.ends_with(".pyc") || lower_name.ends_with(".pyo");
    if py3 || py2 || (named && magic > 0) {
        let version = if py3 {
            "3"
        } else if py2 {
            "2"
        } else {
            "?"
        };
        return Some(Code::new(
            CodeKind::PythonBytecode,
            format!("Python {version} bytecode (magic {magic})"),
        ));
    }
    None
}

/// A tar header block: either a ustar/GNU magic at 257 or, for old v7
/// archives, a valid header checksum. The checksum is required in both
/// cases so that text that happens to contain "ustar" does not match.
pub fn is_tar_header(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    let block = &head[..512];
    // The checksum field: octal digits after optional spaces.
    let mut stored: u32 = 0;
    let mut digits = 0;
    for &b in block[148..156].iter().skip_while(|b| **b == b' ') {
        if !(b'0'..=b'7').contains(&b) {
            break;
        }
        stored = stored * 8 + u32::from(b - b'0');
        digits += 1;
    }
    if digits == 0 {
        return false;
    }
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(*b)
            }
        })
        .sum();
    // An all-zero block has checksum 256 from the spaces alone, and no name.
    sum == stored && block[0] != 0
}

fn data(head: &[u8]) -> Option<&'static str> {
    const TABLE: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "PNG image"),
        (b"\xff\xd8\xff", "JPEG image"),
        (b"GIF87a", "GIF image"),
        (b"GIF89a", "GIF image"),
        (b"%PDF-", "PDF document"),
        (b"II*\0", "TIFF image"),
        (b"MM\0*", "TIFF image"),
        (b"\0\x01\0\0\0", "TrueType font"),
        (b"OTTO", "OpenType font"),
        (b"wOFF", "WOFF font"),
        (b"wOF2", "WOFF2 font"),
        (b"SQLite format 3\0", "SQLite database"),
        (b"OggS", "Ogg media"),
        (b"fLaC", "FLAC audio"),
        (b"ID3", "MP3 audio"),
        (b"\xde\x12\x04\x95", "gettext message catalog (.mo)"),
        (b"\x95\x04\x12\xde", "gettext message catalog (.mo)"),
        (b"\0\0\x01\0", "Windows icon"),
    ];
    if head.len() >= 12 && head.starts_with(b"RIFF") {
        return Some("RIFF media (WAV, AVI, WebP)");
    }
    TABLE
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, d)| *d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn code(sniffed: Sniffed) -> (CodeKind, String) {
        match sniffed {
            Sniffed::Code(c) => (c.kind, c.what),
            other => panic!("not code: {other:?}"),
        }
    }

    fn elf(class: u8, etype: u16, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = 1;
        h[16..18].copy_from_slice(&etype.to_le_bytes());
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    /// An ELF header with program headers at 64: `interp` adds a
    /// PT_INTERP entry after a PT_LOAD one.
    fn elf_dyn(interp: bool) -> Vec<u8> {
        let mut h = elf(2, 3, 62);
        h.resize(64 + 2 * 56, 0);
        h[32..40].copy_from_slice(&64u64.to_le_bytes());
        h[54..56].copy_from_slice(&56u16.to_le_bytes());
        h[56..58].copy_from_slice(&2u16.to_le_bytes());
        h[64..68].copy_from_slice(&1u32.to_le_bytes());
        h[120..124].copy_from_slice(&(if interp { 3u32 } else { 1 }).to_le_bytes());
        h
    }

    #[test]
    fn elf_is_described() {
        assert_eq!(
            code(sniff(&elf(1, 2, 3), "bash")),
            (
                CodeKind::ElfExecutable,
                "ELF 32-bit LSB executable, Intel 80386".into()
            )
        );
        assert_eq!(
            code(sniff(&elf(2, 1, 62), "x.o")),
            (
                CodeKind::ElfObject,
                "ELF 64-bit LSB relocatable object, x86-64".into()
            )
        );
        // ET_DYN: a program interpreter makes it a PIE executable.
        assert_eq!(code(sniff(&elf_dyn(true), "ls")).0, CodeKind::ElfExecutable);
        assert_eq!(
            code(sniff(&elf_dyn(false), "libc.so.6")).0,
            CodeKind::ElfSharedLibrary
        );
        // Guile 2.2+ object code: ELF for no machine, standalone ABI.
        let mut guile = elf(2, 3, 0);
        guile[7] = 255;
        let (kind, what) = code(sniff(&guile, "boot-9.go"));
        assert_eq!(kind, CodeKind::GuileObject);
        assert!(what.contains("Guile 2.2 or later"), "{what}");
    }

    #[test]
    fn pe_needs_its_signature_or_a_dos_header() {
        let mut pe = vec![0u8; 256];
        pe[..2].copy_from_slice(b"MZ");
        pe[8] = 4;
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        assert_eq!(
            code(sniff(&pe, "a.exe")),
            (
                CodeKind::PeExecutable,
                "PE executable (Windows), x86-64".into()
            )
        );
        pe[0x80 + 22..0x80 + 24].copy_from_slice(&0x2102u16.to_le_bytes());
        assert_eq!(code(sniff(&pe, "a.dll")).0, CodeKind::PeDll);
        // Text that starts with "MZ" is not an executable.
        let text = b"MZ is a nice prefix for a text line\nand more text follows here, long enough to pass sixty-four bytes".to_vec();
        assert_eq!(sniff(&text, "notes.txt"), Sniffed::Unrecognised);
    }

    #[test]
    fn class_and_fat_macho_are_told_apart() {
        let class = [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52];
        assert_eq!(
            code(sniff(&class, "A.class")),
            (
                CodeKind::JavaClass,
                "JVM class file (version 52, Java 8)".into()
            )
        );
        let fat = [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2];
        assert_eq!(
            code(sniff(&fat, "tool")),
            (
                CodeKind::MachoUniversal,
                "Mach-O universal binary with 2 architectures".into()
            )
        );
        let thin = [0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(
            code(sniff(&thin, "tool")),
            (CodeKind::MachoExecutable, "Mach-O 64-bit executable".into())
        );
    }

    #[test]
    fn pyc_magic_is_checked_against_text() {
        // CPython 3.11's magic 3495 and Python 2.7's 62211.
        let py311 = [0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0];
        let (kind, what) = code(sniff(&py311, ""));
        assert_eq!(kind, CodeKind::PythonBytecode);
        assert!(what.starts_with("Python 3 bytecode"), "{what}");
        let py27 = [0x03, 0xf3, b'\r', b'\n', 1, 2, 3, 4];
        assert!(
            code(sniff(&py27, "x.pyc"))
                .1
                .starts_with("Python 2 bytecode")
        );
        // A DOS-style text line is not bytecode.
        assert_eq!(sniff(b"ab\r\ncd\r\n", "readme"), Sniffed::Unrecognised);
    }

    #[test]
    fn other_code_formats() {
        for (head, name, want) in [
            (&b"\0asm\x01\0\0\0"[..], "m.wasm", CodeKind::WebAssembly),
            (b"\0\0\0\0chez\x03\x00", "petite.boot", CodeKind::ChezScheme),
            (b"BC\xc0\xde\x35\x14", "a.bc", CodeKind::LlvmBitcode),
            (b"FOR1\0\0\x01\0BEAMAtU8", "m.beam", CodeKind::ErlangBeam),
            (
                b";ELC\x1c\0\0\0\n;;; Compiled",
                "a.elc",
                CodeKind::EmacsBytecode,
            ),
            (b"GOOF----LE-8-2.0", "boot-9.go", CodeKind::GuileObject),
            (b"Caml1999O031\x84\x95", "a.cmo", CodeKind::OcamlObject),
            (b"Caml1999A031\x84\x95", "a.cma", CodeKind::OcamlObject),
            (b"Caml1999I031\x84\x95", "a.cmi", CodeKind::OcamlCompiled),
            (b"dex\n035\0abcdefgh", "classes.dex", CodeKind::DalvikDex),
            (
                b"#!/usr/bin/ocamlrun\n\0\0\x54",
                "ocamlc",
                CodeKind::OcamlExecutable,
            ),
        ] {
            assert_eq!(code(sniff(head, name)).0, want, "{name}");
        }
        // Text that looks a little like these is not code.
        for text in [&b";ELC is a comment"[..], b"GOOF-ball", b"Caml1999 notes"] {
            assert_eq!(sniff(text, "notes"), Sniffed::Unrecognised, "{text:?}");
        }
    }

    #[test]
    fn containers_and_compression() {
        for (head, name, want) in [
            (&b"!<arch>\nfoo.o/"[..], "libfoo.a", Container::Ar),
            (b"PK\x03\x04\x14\0", "a.jar", Container::Zip),
        ] {
            assert_eq!(sniff(head, name), Sniffed::Container(want), "{name}");
        }
        for (head, name, want) in [
            (&[0x1f, 0x8b, 8, 0][..], "a.gz", Compression::Gzip),
            (b"\xfd7zXZ\0\0", "a.xz", Compression::Xz),
            (b"LZIP\x01\x0c", "a.lz", Compression::Lzip),
            (&[0x28, 0xb5, 0x2f, 0xfd, 0], "a.zst", Compression::Zstd),
        ] {
            assert_eq!(sniff(head, name), Sniffed::Compressed(want), "{name}");
        }
        // "BZh" text is not bzip2.
        assert_eq!(
            sniff(b"BZh9 is not a stream at all", "x"),
            Sniffed::Unrecognised
        );
    }

    #[test]
    fn tar_header_needs_a_valid_checksum() {
        let mut h = tar::Header::new_ustar();
        h.set_path("a/b.txt").unwrap();
        h.set_size(3);
        h.set_cksum();
        assert!(is_tar_header(h.as_bytes()));
        let mut bad = h.as_bytes().to_vec();
        bad[0] ^= 1;
        assert!(!is_tar_header(&bad));
        assert!(!is_tar_header(&[0u8; 512]));
    }
}
