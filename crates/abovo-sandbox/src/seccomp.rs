//! The builder's system call filter, as Nix installs it (docs/sandbox.md §3,
//! §4.4-G): no setuid or setgid bits, no extended attributes.
//!
//! * `chmod`, `fchmod`, `fchmodat` and `fchmodat2` with `S_ISUID` or
//!   `S_ISGID` in the mode fail with `EPERM`. Canonicalisation would clear
//!   the bits anyway; the filter makes sure a setuid file never exists, even
//!   for the length of a build, in a tree another process may look at.
//! * every `*xattr` call (`get`, `set`, `list`, `remove`, in their path,
//!   `l`, `f` and `…at` forms) fails with `ENOTSUP`, what a file system
//!   without extended attributes answers, so tools fall back as they do
//!   there. A NAR cannot record extended attributes or ACLs, so a builder
//!   that relies on them would build something the store cannot keep.
//!
//! # Architectures
//!
//! A filter sees the system call number of the ABI the call came through,
//! and the kernel tells which one (`seccomp_data.arch`). On x86_64 a 32-bit
//! (`i686-linux`) builder calls through the i386 ABI, with other numbers;
//! Nix adds those ABIs to its filter, and so does abovo: each program here
//! starts with a dispatch on the architecture to a section with that ABI's
//! numbers. The x32 ABI (x86_64 numbers with bit 30 set) is denied as a
//! whole with `ENOSYS`: no Guix system uses it, and denying it closes the
//! way around the x86_64 rules. A call from any other architecture kills the
//! process (a kernel delivers none).
//!
//! The sections are compiled by `seccompiler` (pure Rust, no libseccomp);
//! seccompiler checks one architecture per program and kills on any other,
//! so abovo compiles each section on its own, removes that check (verified
//! by its unit tests), and joins the sections behind its own dispatch. Two
//! programs are installed, one per error (`EPERM` and `ENOTSUP`), because a
//! seccompiler program has one action for every match; the kernel runs
//! both on every call.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};
use std::collections::BTreeMap;

/// The system call numbers of one ABI that the filter needs.
#[derive(Debug, Clone, Copy)]
struct Abi {
    /// `AUDIT_ARCH_…` of the ABI.
    audit_arch: u32,
    /// `chmod`, where the ABI has it (the generic table has only `fchmodat`).
    chmod: Option<i64>,
    fchmod: i64,
    fchmodat: i64,
    /// Every `*xattr` call but the `…at` ones ([`XATTRAT`]).
    xattr: &'static [i64],
    /// Deny every call whose number has this bit set (x32 on x86_64).
    deny_bit: Option<u32>,
}

/// `fchmodat2`: one number on every architecture (added after the tables
/// were unified in Linux 5.x).
const FCHMODAT2: i64 = 452;
/// `setxattrat`, `getxattrat`, `listxattrat`, `removexattrat` (Linux 6.13),
/// likewise the same everywhere.
const XATTRAT: [i64; 4] = [463, 464, 465, 466];

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;

/// x86_64: `setxattr` … `fremovexattr` are 188-199.
const X86_64: Abi = Abi {
    audit_arch: AUDIT_ARCH_X86_64,
    chmod: Some(90),
    fchmod: 91,
    fchmodat: 268,
    xattr: &[188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199],
    deny_bit: Some(0x4000_0000),
};

/// i386, and 32-bit ARM (the same numbers but `fchmodat`): `setxattr` …
/// `fremovexattr` are 226-237.
const I386: Abi = Abi {
    audit_arch: AUDIT_ARCH_I386,
    chmod: Some(15),
    fchmod: 94,
    fchmodat: 306,
    xattr: &[226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237],
    deny_bit: None,
};

/// The generic table of aarch64 and riscv64: `setxattr` … `fremovexattr`
/// are 5-16, and there is no `chmod`.
const GENERIC_XATTR: &[i64] = &[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// The ABIs a builder on this machine can call through.
fn host_abis() -> Vec<Abi> {
    match std::env::consts::ARCH {
        "x86_64" => vec![X86_64, I386],
        "x86" => vec![I386],
        "aarch64" | "arm" => {
            let generic = Abi {
                audit_arch: AUDIT_ARCH_AARCH64,
                chmod: None,
                fchmod: 52,
                fchmodat: 53,
                xattr: GENERIC_XATTR,
                deny_bit: None,
            };
            let arm = Abi {
                audit_arch: AUDIT_ARCH_ARM,
                fchmodat: 333,
                ..I386
            };
            if std::env::consts::ARCH == "arm" {
                vec![arm]
            } else {
                vec![generic, arm]
            }
        }
        "riscv64" => vec![Abi {
            audit_arch: AUDIT_ARCH_RISCV64,
            chmod: None,
            fchmod: 52,
            fchmodat: 53,
            xattr: GENERIC_XATTR,
            deny_bit: None,
        }],
        _ => Vec::new(),
    }
}

/// Why the filter could not be made or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// abovo has no system call table for this machine.
    #[error(
        "abovo has no system call filter for `{0}` machines (it knows x86_64, i686, aarch64, armhf and riscv64)"
    )]
    UnknownArchitecture(&'static str),
    /// seccompiler refused the rules.
    #[error("cannot compile the system call filter: {0}")]
    Compile(String),
    /// The kernel refused the filter.
    #[error("cannot install the system call filter: {0}")]
    Install(String),
}

/// The programs to install, in order (each runs on every call).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    programs: Vec<BpfProgram>,
}

const S_ISUID: u64 = 0o4000;
const S_ISGID: u64 = 0o2000;
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
const ENOTSUP: u32 = 95;

// Classic BPF opcodes (linux/bpf_common.h) and seccomp return values.
const LD_W_ABS: u16 = 0x20;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JSET_K: u16 = 0x45;
const JMP_JA: u16 = 0x05;
const RET_K: u16 = 0x06;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

/// A BPF instruction that does not branch (a load, a return, `ja`).
fn stmt(code: u16, k: u32) -> sock_filter {
    jump(code, k, 0, 0)
}

/// A conditional jump: `jt` instructions ahead when true, `jf` when false.
fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

impl Filter {
    /// The filter for the ABIs of this machine.
    pub fn for_host() -> Result<Filter, SeccompError> {
        let abis = host_abis();
        if abis.is_empty() {
            return Err(SeccompError::UnknownArchitecture(std::env::consts::ARCH));
        }
        Filter::for_abis(&abis)
    }

    fn for_abis(abis: &[Abi]) -> Result<Filter, SeccompError> {
        let chmod = program(abis, EPERM, &|abi| {
            let mut rules = BTreeMap::new();
            let mode_rules = |arg: u8| -> Result<Vec<SeccompRule>, SeccompError> {
                [S_ISUID, S_ISGID]
                    .into_iter()
                    .map(|bit| {
                        let cond = SeccompCondition::new(
                            arg,
                            SeccompCmpArgLen::Dword,
                            SeccompCmpOp::MaskedEq(bit),
                            bit,
                        )
                        .map_err(|e| SeccompError::Compile(e.to_string()))?;
                        SeccompRule::new(vec![cond])
                            .map_err(|e| SeccompError::Compile(e.to_string()))
                    })
                    .collect()
            };
            if let Some(nr) = abi.chmod {
                rules.insert(nr, mode_rules(1)?);
            }
            rules.insert(abi.fchmod, mode_rules(1)?);
            rules.insert(abi.fchmodat, mode_rules(2)?);
            rules.insert(FCHMODAT2, mode_rules(2)?);
            Ok(rules)
        })?;
        let xattr = program(abis, ENOTSUP, &|abi| {
            let mut rules = BTreeMap::new();
            for nr in abi.xattr.iter().chain(XATTRAT.iter()) {
                // No rule: every call of this number matches.
                rules.insert(*nr, Vec::new());
            }
            Ok(rules)
        })?;
        Ok(Filter {
            programs: vec![chmod, xattr],
        })
    }

    /// Installs the filter on the calling thread (and what it executes).
    /// Sets `no_new_privs`, which the kernel requires of an unprivileged
    /// process.
    pub fn install(&self) -> Result<(), SeccompError> {
        for p in &self.programs {
            seccompiler::apply_filter(p).map_err(|e| SeccompError::Install(e.to_string()))?;
        }
        Ok(())
    }

    /// The number of BPF instructions, for tests and diagnostics.
    pub fn len(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }

    /// Whether there is no program at all (never for a built filter).
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }
}

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// One program: a dispatch on the architecture, then for each ABI its
/// section (seccompiler's code without its own architecture check), where a
/// match returns `errno`.
fn program(
    abis: &[Abi],
    errno: u32,
    rules_of: &dyn Fn(&Abi) -> Result<Rules, SeccompError>,
) -> Result<BpfProgram, SeccompError> {
    let mut sections = Vec::new();
    for abi in abis {
        let mut section = Vec::new();
        if let Some(bit) = abi.deny_bit {
            section.push(stmt(LD_W_ABS, DATA_NR));
            section.push(jump(JMP_JSET_K, bit, 0, 1));
            section.push(stmt(RET_K, RET_ERRNO | ENOSYS));
        }
        section.extend(compile_section(rules_of(abi)?, errno)?);
        sections.push(section);
    }
    // Header: load the architecture; per ABI "if equal, jump to its
    // section" (two instructions); then kill.
    let header_len = 1 + 2 * abis.len() + 1;
    let mut prog = vec![stmt(LD_W_ABS, DATA_ARCH)];
    let mut section_start = header_len;
    for (i, abi) in abis.iter().enumerate() {
        prog.push(jump(JMP_JEQ_K, abi.audit_arch, 0, 1));
        // The jump sits at index 2 + 2i; it lands at 2 + 2i + 1 + k.
        let at = 2 + 2 * i;
        let k = u32::try_from(section_start - at - 1)
            .map_err(|_| SeccompError::Compile("program too long".into()))?;
        prog.push(stmt(JMP_JA, k));
        section_start += sections[i].len();
    }
    prog.push(stmt(RET_K, RET_KILL_PROCESS));
    for s in sections {
        prog.extend(s);
    }
    if prog.len() >= 4096 {
        return Err(SeccompError::Compile(format!(
            "program of {} instructions is too long",
            prog.len()
        )));
    }
    Ok(prog)
}

/// seccompiler's program for `rules` without its architecture check: it
/// starts by loading the call number and ends in a return on every path.
fn compile_section(rules: Rules, errno: u32) -> Result<Vec<sock_filter>, SeccompError> {
    let prologue_len = arch_check_len()?;
    let full = compile(rules, errno)?;
    Ok(full[prologue_len..].to_vec())
}

/// seccompiler's whole program for `rules` (x86_64's architecture check
/// first), where a match returns `errno` and anything else is allowed.
fn compile(rules: Rules, errno: u32) -> Result<BpfProgram, SeccompError> {
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno),
        TargetArch::x86_64,
    )
    .and_then(BpfProgram::try_from)
    .map_err(|e| SeccompError::Compile(e.to_string()))
}

/// The length of seccompiler's architecture check: what it puts before the
/// single return of a filter without rules. Checked to be what abovo
/// expects (load, compare, kill), so a change in seccompiler cannot go
/// unnoticed.
fn arch_check_len() -> Result<usize, SeccompError> {
    let empty = compile(BTreeMap::new(), EPERM)?;
    let expected = [
        (LD_W_ABS, DATA_ARCH),
        (JMP_JEQ_K, AUDIT_ARCH_X86_64),
        (RET_K, RET_KILL_PROCESS),
    ];
    let prologue: Vec<(u16, u32)> = empty.iter().take(3).map(|i| (i.code, i.k)).collect();
    if empty.len() != 4 || prologue != expected {
        return Err(SeccompError::Compile(
            "seccompiler's programs do not start with the architecture check abovo removes".into(),
        ));
    }
    Ok(3)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests;
