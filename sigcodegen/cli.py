"""sigcodegen build | show | plan | cache — the command line.

    sigcodegen build --dim 5 --depth 4              emit + cache the modules, print where
    sigcodegen build --reference --out generated    refresh the committed reference kernels
    sigcodegen show  --dim 5 --depth 4 --target c   print an emitted module (and a failed build's log)
    sigcodegen plan  --dim 5 --depth 4 [--batch 128 --length 100] [--target triton]
    sigcodegen plan  --kind sigkernel --dim 3 [--batch 32 --length 1000 --dyadic-order 2]
    sigcodegen plan  --dim 20 --words "0,1;2,3,1" [--batch 64 --length 200]   chosen coefficients
    sigcodegen cache path | list | clear

Errors exit with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .version import __version__
from .spec import KINDS, LOGSIGNATURE_MODES, SIGKERNEL_TARGETS, TARGETS, KernelSpec, check_choice

__all__ = ["main", "REFERENCE_SPECS"]

#: The (dim, depth) pairs committed in generated/ (refresh: sigcodegen build --reference --out generated).
REFERENCE_SPECS = ((2, 3), (5, 4))


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise CliError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sigcodegen", description="A compiler for truncated path signatures.")
    parser.add_argument("--version", action="version", version=f"sigcodegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{build,show,plan,cache}", parser_class=_Parser)

    def kind_arg(p):
        p.add_argument("--kind", choices=KINDS, default="signature",
                       help="signature (truncated signatures, needs --depth), logsignature "
                            "(log-signatures, needs --depth; --mode picks the basis), sigkernel "
                            "(signature kernels by the Goursat PDE, no depth) or coefficients "
                            "(signature_coefficients' c kernel, no depth; plan it with --words)")

    def mode_arg(p):
        p.add_argument("--mode", choices=LOGSIGNATURE_MODES,
                       help="kind logsignature: the basis (default words; one module holds "
                            "every mode, so build and show give the same file for each)")

    def spec_args(p, target_default, allow_all):
        p.add_argument("--dim", type=_positive_int, required=not allow_all, help="path dimension d")
        p.add_argument("--depth", type=_positive_int, help="truncation depth m (kind signature)")
        kind_arg(p)
        mode_arg(p)
        choices = (*TARGETS, "all") if allow_all else TARGETS
        p.add_argument("--target", default=target_default, help=f"one of {', '.join(choices)}")

    build = sub.add_parser("build", help="emit and cache kernel modules (ahead of time)")
    spec_args(build, "all", allow_all=True)
    build.add_argument("--out", type=Path, help="write into this folder instead of the cache")
    build.add_argument("--reference", action="store_true",
                       help=f"the reference specs {REFERENCE_SPECS} (with --out generated: refresh it)")

    show = sub.add_parser("show", help="print an emitted module")
    spec_args(show, None, allow_all=False)

    plan = sub.add_parser("plan", help="print the plan: per-degree products, shapes, FLOPs")
    plan.add_argument("--dim", type=_positive_int, required=True)
    plan.add_argument("--depth", type=_positive_int)
    kind_arg(plan)
    mode_arg(plan)
    plan.add_argument("--length2", type=_positive_int,
                      help="sigkernel: points of the second path (default: --length)")
    plan.add_argument("--dyadic-order", type=int, default=0,
                      help="sigkernel: the dyadic order of both paths, for the work")
    plan.add_argument("--batch", type=_positive_int, help="paths, for total work per strategy")
    plan.add_argument("--length", type=_positive_int, help="points per path, with --batch")
    plan.add_argument("--stream", action="store_true", help="costs for stream output")
    plan.add_argument("--words", help="signature_coefficients: the words, letters separated by "
                                      "commas and words by semicolons (\"0,1;2,3,1\"); prints "
                                      "the plan pruned to their prefix tree")
    plan.add_argument("--target", choices=TARGETS,
                      help="the parameters in force for this target (and for triton its lane "
                           "layout: lanes, registers, FLOPs); without it the defaults and each "
                           "target's overrides")

    cache = sub.add_parser("cache", help="the kernel cache: path | list | clear")
    cache.add_argument("action", choices=("path", "list", "clear"))
    return parser


def _check_depth(args, command: str) -> None:
    if args.kind in ("signature", "logsignature") and args.depth is None:
        raise CliError(f"sigcodegen {command}: the following arguments are required: --depth "
                       f"(or --kind sigkernel)")
    if getattr(args, "mode", None) is not None and args.kind != "logsignature":
        raise CliError(f"sigcodegen {command}: --mode is an option of --kind logsignature (the "
                       f"log-signature basis), not of --kind {args.kind}")
    if args.kind == "sigkernel" and args.depth is not None:
        raise CliError(f"sigcodegen {command}: --kind sigkernel takes no --depth (the signature "
                       f"kernel is untruncated)")
    if args.kind == "coefficients" and args.depth is not None:
        raise CliError(f"sigcodegen {command}: --kind coefficients takes no --depth (the words "
                       f"give the lengths)")


def _spec(args, target: str) -> KernelSpec:
    _check_depth(args, args.command)
    if args.kind in ("sigkernel", "coefficients"):
        return KernelSpec(dim=args.dim, kind=args.kind, target=target)
    return KernelSpec(dim=args.dim, depth=args.depth, kind=args.kind, target=target,
                      mode=args.mode if args.kind == "logsignature" else None)


def _targets(name: str, kind: str = "signature") -> tuple[str, ...]:
    if name == "all":
        return SIGKERNEL_TARGETS if kind == "sigkernel" else ("c",) if kind == "coefficients" \
            else TARGETS
    check_choice("target", name, owner="--target")
    return (name,)


def _cmd_build(args) -> int:
    from .jit.loader import build, build_library, write_to
    from .jit.toolchain import CompileError, CompilerUnavailable

    if args.reference:
        pairs = REFERENCE_SPECS
    elif args.kind in ("sigkernel", "coefficients") and args.dim is not None:
        _check_depth(args, "build")
        pairs = ((args.dim, None),)
    elif args.dim is None or args.depth is None:
        raise CliError("sigcodegen build: --dim and --depth are required (or --reference)")
    else:
        _check_depth(args, "build")
        pairs = ((args.dim, args.depth),)
    kind = "signature" if args.reference else args.kind
    mode = args.mode if kind == "logsignature" else None
    specs = [KernelSpec(dim=d, depth=m, kind=kind, target=t, mode=mode) for d, m in pairs
             for t in _targets(args.target, kind)]
    written, failed = [], 0
    for spec in specs:
        label = (f"{spec.target:<6} {'' if kind == 'signature' else kind + ' '}dim={spec.dim} "
                 f"depth={spec.depth}" if spec.depth is not None
                 else f"{spec.target:<6} {spec.kind} dim={spec.dim}")
        if args.out:
            path = write_to(spec, args.out)
        elif spec.target == "c":  # the source, then a library per precision compiled from it
            try:
                for bits in (32, 64):
                    path = build_library(spec, bits=bits)
                    print(f"{label}  {path}")
                written.append(path)
            except (CompilerUnavailable, CompileError) as err:
                print(f"{label}  failed: {' '.join(str(err).split())}", file=sys.stderr)
                failed += 1
            continue
        else:
            path = build(spec)[0]
        written.append(path)
        print(f"{label}  {path}")
    if args.reference and args.out:
        keep = {p.stem for p in written}
        for old in Path(args.out).glob("*sig_d*_m*_*.*"):
            if old.stem not in keep and old.suffix in (".py", ".c", ".json"):
                old.unlink()
                print(f"removed stale {old}")
    return 1 if failed else 0


def _cmd_show(args) -> int:
    from .jit.loader import build, compile_logs

    default = "c" if args.kind in ("sigkernel", "coefficients") else "jax"
    spec = _spec(args, _targets(args.target or default)[0])
    _, data = build(spec)
    sys.stdout.write(data.decode())
    for log in compile_logs(spec) if spec.target == "c" else []:
        print(f"\n--- the C compiler failed on this source ({log}):", file=sys.stderr)
        sys.stderr.write(log.read_text())
    return 0


def _cmd_plan(args) -> int:
    from .plan import explain, make_plan

    if (args.batch is None) != (args.length is None):
        raise CliError("sigcodegen plan: give --batch and --length together")
    if args.words is not None:
        return _plan_words(args)
    _check_depth(args, "plan")
    if args.kind == "coefficients":
        raise CliError("sigcodegen plan: --kind coefficients is planned per word set; give "
                       "--words (e.g. --words \"0,1;2,3,1\")")
    if args.kind == "sigkernel":
        plan = make_plan(KernelSpec(dim=args.dim, kind="sigkernel", target="c"))
        lengths = None if args.length is None else (args.length, args.length2 or args.length)
        if args.target is not None and args.target not in SIGKERNEL_TARGETS:
            raise CliError(f"sigcodegen plan: --kind sigkernel is emitted for the targets "
                           f"{', '.join(SIGKERNEL_TARGETS)}, not {args.target!r}")
        if args.dyadic_order < 0:
            raise CliError("sigcodegen plan: --dyadic-order must be >= 0")
        print(plan.text(args.target, args.batch, lengths, (args.dyadic_order,) * 2))
        return 0
    plan = make_plan(_spec(args, args.target or "jax"))
    if args.mode is not None:  # the projection of that mode only
        keep = ("projections", f"  {args.mode} ", "  backward ")
        plan = dataclasses.replace(plan, notes=tuple(n for n in plan.notes if n.startswith(keep)),
                                   projections=tuple(p for p in plan.projections
                                                     if p.mode == args.mode))
    print(explain(plan, args.batch, args.length, args.stream, args.target))
    if args.target == "triton":
        from .emit.triton import lane_layout

        print()
        print(lane_layout(plan))
    return 0


def _parse_words(text: str) -> list[tuple[int, ...]]:
    words = []
    for n, part in enumerate(text.split(";")):
        try:
            words.append(tuple(int(a) for a in part.split(",")))
        except ValueError:
            raise CliError(f"sigcodegen plan: --words: word {n} is {part.strip()!r}; write letters "
                           f"as integers separated by commas, words separated by semicolons, "
                           f"e.g. --words \"0,1;2,3,1\"") from None
    return words


def _plan_words(args) -> int:
    from .plan.coefficients import coefficient_plan

    if args.kind not in ("signature", "coefficients") or args.depth is not None \
            or args.target not in (None, "c") \
            or args.stream:
        raise CliError("sigcodegen plan: --words takes only --dim (and --batch/--length); the "
                       "depth is the longest word's length")
    try:
        plan = coefficient_plan(args.dim, _parse_words(args.words))
    except (TypeError, ValueError) as err:
        raise CliError(f"sigcodegen plan --words: {err}") from None
    print(plan.text(args.batch, args.length))
    return 0


def _cmd_cache(args) -> int:
    from .jit.cache import default_cache
    from .runtime.dispatch import clear_caches

    cache = default_cache()
    if args.action == "path":
        print(cache.root)
    elif args.action == "list":
        entries = cache.entries()
        sources = {e.get("stem"): e for e in entries}
        for e in entries:
            source = sources.get(e.get("library_of"), e)
            fields = source.get("key_material", {}).get("module", {})
            kind = "c library" if "library_of" in e else fields.get("target", "?")
            print(f"{e.get('stem', '?'):<46} {kind:<10} dim={fields.get('dim', '?')} "
                  f"depth={fields.get('depth', '?')} {e['bytes']:>9,} B")
        print(f"{len(entries)} entries in {cache.root}")
    else:
        removed = cache.clear()
        clear_caches()
        print(f"removed {removed} files from {cache.root}")
    return 0


def main(argv=None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise CliError("sigcodegen: a command is required: build, show, plan or cache "
                           "(see `sigcodegen --help`)")
        command = {"build": _cmd_build, "show": _cmd_show, "plan": _cmd_plan, "cache": _cmd_cache}
        return command[args.command](args)
    except CliError as err:
        print(str(err), file=sys.stderr)
        return 2
    except (ValueError, TypeError, NotImplementedError, OSError) as err:
        message = " ".join(str(err).split())
        print(f"sigcodegen: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
