//! `abovo hash FILE...`: the hash of files, standard input or trees, exactly
//! as `guix hash` 1.5.0 prints it (semantics in
//! [`abovo_store::file_hash`]).

use crate::exit;
use crate::output::{Context, print_json};
use abovo_store::HashAlgo;
use abovo_store::encoding::TextEncoding;
use abovo_store::file_hash::{FileHashError, FileHashOptions, Serializer, hash_file, hash_reader};
use anyhow::Context as _;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

/// Print the cryptographic hash of each FILE, one line per FILE, as `guix
/// hash` does.
///
/// Without -S (or with -S none) FILE's bytes are hashed: a symlink is
/// followed, a directory is an error, and `-` reads standard input. With
/// -S nar (or -r) the NAR serialisation of FILE is hashed: a symlink is
/// recorded as such and a directory is archived. The first FILE that cannot
/// be hashed stops the command with exit code 2.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The files to hash; `-` is standard input (with -S none).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<OsString>,
    /// The hash algorithm: sha256 (default), sha512, sha1 or md5.
    #[arg(
        short = 'H',
        long = "hash",
        default_value = "sha256",
        value_name = "ALGORITHM"
    )]
    pub algo: String,
    /// How to write the hash: nix-base32 (default), base16 (also hex,
    /// hexadecimal), base32 (RFC 4648, lower case, no padding) or base64.
    #[arg(
        short = 'f',
        long = "format",
        default_value = "nix-base32",
        value_name = "FMT"
    )]
    pub format: String,
    /// What to hash: `none` hashes FILE's bytes, `nar` the NAR serialisation
    /// of FILE, `git` its Git blob or tree object (hashed with -H). The last
    /// of -S and -r wins.
    #[arg(short = 'S', long = "serializer", default_value = "none", value_name = "TYPE", overrides_with_all = ["r", "recursive"])]
    pub serializer: String,
    /// Same as -S nar.
    #[arg(short = 'r', overrides_with_all = ["serializer", "recursive"])]
    pub r: bool,
    /// Same as -S nar (deprecated spelling, as in Guix).
    #[arg(long = "recursive", hide = true, overrides_with_all = ["serializer", "r"])]
    pub recursive: bool,
    /// Leave out version-control files, as Guix 1.5.0 does: the kinds
    /// (.bzr .git .hg .svn CVS) present directly under FILE are excluded at
    /// every depth, plus `.git` files when `.git` is one of them.
    #[arg(short = 'x', long = "exclude-vcs")]
    pub exclude_vcs: bool,
    /// Print a JSON array of {file, hash, algorithm, format, serializer}
    /// instead of one hash per line.
    #[arg(long)]
    pub json: bool,
}

/// One line of the answer, for `--json`. A FILE that is not UTF-8 shows
/// its other bytes as `\xNN` in `file`, and `file_bytes` holds its bytes
/// in hex, so that two different names never print the same.
#[derive(Debug, serde::Serialize)]
struct Hashed {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_bytes: Option<String>,
    hash: String,
    algorithm: &'static str,
    format: &'static str,
    serializer: &'static str,
}

/// Runs `abovo hash`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let algo = HashAlgo::from_name(&args.algo).map_err(|e| anyhow::anyhow!("{e}"))?;
    let encoding = TextEncoding::from_guix_name(&args.format).ok_or_else(|| {
        anyhow::anyhow!(
            "unsupported hash format: {} (expected nix-base32, base16, hex, hexadecimal, base32 or base64; for JSON output use --json)",
            args.format
        )
    })?;
    let serializer = if args.r || args.recursive {
        if args.recursive {
            ctx.warn("'--recursive' is deprecated, use '--serializer=nar' instead");
        }
        Serializer::Nar
    } else {
        Serializer::from_name(&args.serializer)?
    };
    let options = FileHashOptions {
        algo,
        serializer,
        exclude_vcs: args.exclude_vcs,
    };
    let mut out = std::io::stdout().lock();
    let mut answers = Vec::new();
    for file in &args.files {
        let hash = if file.as_os_str() == "-" && serializer == Serializer::None {
            hash_reader(std::io::stdin().lock(), algo).context("cannot read standard input")?
        } else {
            hash_file(Path::new(file), &options).map_err(|e| with_hint(e, file, serializer))?
        };
        let text = hash.encode(encoding);
        if args.json {
            let (shown, bytes) = abovo_build::diff::name_text(file.as_encoded_bytes());
            answers.push(Hashed {
                file: shown,
                file_bytes: bytes,
                hash: text,
                algorithm: algo.name(),
                format: encoding_name(encoding),
                serializer: match serializer {
                    Serializer::None => "none",
                    Serializer::Nar => "nar",
                    Serializer::Git => "git",
                },
            });
        } else {
            // Each line goes out as soon as it is known, as with Guix: an
            // error on a later FILE leaves the earlier lines printed.
            writeln!(out, "{text}")?;
            out.flush()?;
        }
    }
    if args.json {
        print_json(&answers)?;
    }
    Ok(exit::SUCCESS)
}

/// Words a hashing error like the other commands' (`cannot read `FILE``,
/// then the system's reason), and adds what to do next to the errors
/// people meet most.
fn with_hint(e: FileHashError, file: &OsString, serializer: Serializer) -> anyhow::Error {
    let e = match e {
        FileHashError::Io { path, error } => {
            anyhow::Error::new(error).context(format!("cannot read `{}`", path.display()))
        }
        e => e.into(),
    };
    let is_dir = Path::new(file).is_dir();
    if serializer == Serializer::None && is_dir {
        anyhow::anyhow!(
            "{e:#}\n  (hint: `{}` is a directory; hash its archive with -r or -S nar)",
            Path::new(file).display()
        )
    } else if file.as_os_str() == "-" {
        anyhow::anyhow!(
            "{e:#}\n  (hint: standard input can only be hashed with -S none; archive a file or directory instead)"
        )
    } else {
        e
    }
}

fn encoding_name(e: TextEncoding) -> &'static str {
    match e {
        TextEncoding::NixBase32 => "nix-base32",
        TextEncoding::Base16 => "base16",
        TextEncoding::Base32 => "base32",
        TextEncoding::Base64 => "base64",
    }
}
