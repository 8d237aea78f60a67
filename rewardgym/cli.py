"""The ``rewardgym`` command line: list the envs, run the quick-start demo, measure throughput.

Each subcommand is a function ``<name>_command(args) -> int`` and one entry in ``build_parser``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from rich import box
from rich.console import Console
from rich.table import Table

import rewardgym
from rewardgym.envs.maze.generation import bfs_distances
from rewardgym.envs.maze.grid_maze import MOVES

console = Console()

Policy = Callable[[Any], Any]  # observation -> action

BATCH_SIZES = (1, 64, 1024, 4096)
DEMO_SEED = 0
MAX_GIF_FRAMES = 200
MAX_GIF_PIXELS = 320  # GIF frames are shrunk until their longer side is at most this


# -- argument types -----------------------------------------------------------------------------


def env_id(name: str) -> str:
    """A registered env id, given in full (``rewardgym/GridMaze-v0``) or without the namespace."""
    known = rewardgym.registered_ids()
    for candidate in (name, f"rewardgym/{name}"):
        if candidate in known:
            return candidate
    raise argparse.ArgumentTypeError(f"unknown env id {name!r}; known ids: {', '.join(known)}")


def positive_int(text: str) -> int:
    """An int above zero."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A float above zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


# -- list ---------------------------------------------------------------------------------------


def describe_space(space: spaces.Space) -> str:
    """A short description of a space: a Box shows its bounds only where they are uniform; a Dict
    lists each key with its space indented below."""
    if isinstance(space, spaces.Dict):
        return "\n".join(f"{key}\n  {describe_space(sub)}" for key, sub in space.spaces.items())
    if isinstance(space, spaces.Box):
        low, high = np.unique(space.low), np.unique(space.high)
        bounds = f"{low[0]:g}, {high[0]:g}, " if len(low) == len(high) == 1 else ""
        return f"Box({bounds}{space.shape}, {space.dtype})"
    return str(space)


def list_command(args: argparse.Namespace) -> int:
    """Print every registered env with its spaces and reward variants."""
    table = Table(title="rewardgym envs (default arguments)", title_justify="left", box=box.SIMPLE_HEAD)
    table.show_edge, table.collapse_padding = False, True
    table.add_column("id", no_wrap=True)
    table.add_column("observation space", ratio=1)
    table.add_column("action space")
    table.add_column("rewards")
    for env_name in rewardgym.registered_ids():
        env = gym.make(env_name)
        rewards = env.unwrapped.reward_names()
        spaces_ = describe_space(env.observation_space), describe_space(env.action_space)
        table.add_row(env_name, *spaces_, "\n".join(rewards), end_section=True)
        env.close()
    console.print(table)
    return 0


# -- demo ---------------------------------------------------------------------------------------


def geodesic_greedy_action(observation: np.ndarray) -> int:
    """GridMaze (top-down observation): the move to the free neighbour fewest moves from the goal.

    The distances come from a breadth-first search over the observed walls, so this climbs the
    geodesic potential Φ = −(moves to the goal) / (optimal length) and walks a shortest path.
    """
    walls, agent, goal = observation.astype(bool)
    distance = bfs_distances(walls, tuple(np.argwhere(goal)[0])).astype(float)
    distance[distance < 0] = np.inf  # walls
    row, column = np.argwhere(agent)[0]  # the border is all wall, so every neighbour is on the grid
    return int(np.argmin([distance[row + d_row, column + d_column] for d_row, d_column in MOVES]))


def random_policy(env: gym.Env) -> Policy:
    """Uniformly random actions, seeded."""
    env.action_space.seed(DEMO_SEED)
    return lambda observation: env.action_space.sample()


#: The envs the demo plays: id -> (how its policy acts, a policy for a made env).
DEMO_POLICIES: dict[str, tuple[str, Callable[[gym.Env], Policy]]] = {
    "rewardgym/GridMaze-v0": ("greedy on the geodesic potential", lambda env: geodesic_greedy_action),
    "rewardgym/PointMaze-v1": ("random actions", random_policy),
}


def play_episode(env: gym.Env, policy: Policy) -> tuple[list[np.ndarray], bool]:
    """Play one episode from ``DEMO_SEED``: the rendered frames (reset included) and whether it succeeded."""
    observation, _ = env.reset(seed=DEMO_SEED)
    frames = [env.render()]
    terminated = truncated = success = False
    while not (terminated or truncated):
        observation, _, terminated, truncated, info = env.step(policy(observation))
        frames.append(env.render())
        success = bool(info["success"])
    return frames, success


def write_video(path: Path, frames: Sequence[np.ndarray], fps: float) -> None:
    """An episode as ``.gif`` (looping, frames thinned and shrunk) or ``.mp4`` (every frame)."""
    if path.suffix == ".gif":
        write_gif(path, frames, fps)
    elif path.suffix == ".mp4":
        import imageio.v3 as iio

        even = [frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2] for frame in frames]  # H.264 needs even sizes
        iio.imwrite(path, np.stack(even), fps=fps, codec="libx264")
    else:
        raise ValueError(f"the video must end in .gif or .mp4, got {path}")


def write_gif(path: Path, frames: Sequence[np.ndarray], fps: float) -> None:
    """An endlessly looping GIF of at most ``MAX_GIF_FRAMES`` frames (evenly picked, the last kept)."""
    import imageio.v3 as iio
    from PIL import Image

    stride = math.ceil((len(frames) - 1) / (MAX_GIF_FRAMES - 1))
    picked = [*frames[:-1:stride], frames[-1]]
    factor = math.ceil(max(frames[0].shape[:2]) / MAX_GIF_PIXELS)  # shrunk by averaging factor² pixels
    small = [np.asarray(Image.fromarray(frame).reduce(factor)) for frame in picked]
    iio.imwrite(path, np.stack(small), duration=1000 * stride / fps, loop=0)


def demo_env(env_name: str, out: Path) -> list[Path]:
    """Play one episode of ``env_name``; write its GIF and a PNG of the potential heat map."""
    import imageio.v3 as iio

    label, make_policy = DEMO_POLICIES[env_name]
    env = gym.make(env_name, render_mode="rgb_array", render_potential=True)
    frames, success = play_episode(env, make_policy(env))
    fps = env.metadata["render_fps"]
    env.close()

    steps = len(frames) - 1
    outcome = f"reached the goal in {steps} steps" if success else f"did not reach the goal in {steps} steps"
    console.print(f"[bold]{env_name}[/bold] ({label}): {outcome}")
    stem = env_name.split("/")[-1]
    gif, png = out / f"{stem}.gif", out / f"{stem}_potential.png"
    write_gif(gif, frames, fps)
    iio.imwrite(png, frames[0])
    return [gif, png]


def throughput_markdown(env_ids: Sequence[str], seconds: float) -> str:
    """Measure steps per second of ``env_ids`` at ``BATCH_SIZES``, as a markdown table."""
    from rewardgym.throughput import markdown_table, throughput_table

    with console.status(f"measuring throughput ({seconds:g} s per cell)..."):
        rows = throughput_table(env_ids, batch_sizes=BATCH_SIZES, seconds=seconds)
    return markdown_table(rows)


def demo_command(args: argparse.Namespace) -> int:
    """The quick maze experiment, a video of its trained agent, potential maps and throughput, under ``args.out``."""
    from rewardgym.agents.experiment import CONFIGURATIONS, MAZE, QUICK, markdown, run_experiment

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]Training PPO on one GridMaze level ({args.steps:,} steps per reward)...[/bold]")
    rows = run_experiment(MAZE, [c for c in CONFIGURATIONS if c[0] in QUICK], [0], args.steps, out)
    print(markdown(rows))
    video = out / "trained_agent.gif"
    env, policy = run_policy(next((out / "runs").glob("maze_geodesic_shaping_seed0")))
    frames, success = play_episode(env, policy)
    write_video(video, frames, env.metadata["render_fps"])
    console.print(f"trained agent (geodesic shaping): {'reached' if success else 'did not reach'} the goal in {len(frames) - 1} steps")
    written = [out / "maze.csv", out / "maze.png", video]
    for env_name in DEMO_POLICIES:
        written += demo_env(env_name, out)

    table = throughput_markdown(rewardgym.registered_ids(), args.seconds)
    print(table)
    throughput = out / "throughput.md"
    throughput.write_text(table + "\n")
    written.append(throughput)

    console.print("\nFiles written:")
    for path in written:
        console.print(f"  {path}  ({path.stat().st_size / 1024:.1f} KiB)", highlight=False)
    return 0


# -- bench --------------------------------------------------------------------------------------


def bench_command(args: argparse.Namespace) -> int:
    """Print the throughput table of ``args.ids``."""
    print(throughput_markdown(args.ids, args.seconds))
    return 0


# -- train, eval, render, play ------------------------------------------------------------------


def key_value(text: str) -> tuple[str, Any]:
    """``name=value`` with the value read as YAML (``size=7``, ``generator=wilson``, ``braid=0.2``)."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name, yaml.safe_load(value)


def train_command(args: argparse.Namespace) -> int:
    """Train a baseline (or resume one) and evaluate it; ``--seeds S`` trains seeds ``seed … seed+S−1``.

    fast-ppo trains the seeds together in one process; SB3 algorithms one after another. With more
    than one seed each gets its own run directory, ``OUT/seed_<k>``.
    """
    from rewardgym.agents import fast_ppo_run
    from rewardgym.agents.runs import evaluate_any
    from rewardgym.agents.training import RunConfig, train

    config = RunConfig(env_id=args.env, algo=args.algo, reward=args.reward, bonus=args.bonus, bonus_coef=args.bonus_coef,
                       steps=args.steps, seed=args.seed, num_envs=args.num_envs, checkpoint_every=args.checkpoint_every,
                       env_kwargs=dict(args.env_kwargs))
    seeds = list(range(args.seed, args.seed + args.seeds))
    run_dirs = fast_ppo_run.seed_directories(args.out, seeds)
    try:
        if args.algo == "fast-ppo":
            fast_ppo_run.train_seeds(config, seeds, args.out, resume=args.resume)
        else:
            for seed, run_dir in zip(seeds, run_dirs):
                train(replace(config, seed=seed), run_dir, resume=args.resume)
    except KeyboardInterrupt:
        console.print(f"interrupted: checkpoints are in {args.out}; continue with --resume", soft_wrap=True)
        return 130
    print_evaluations([evaluate_any(run_dir, args.eval_episodes) for run_dir in run_dirs])
    return 0


def eval_command(args: argparse.Namespace) -> int:
    """Evaluate a run's final model on the sparse task."""
    from rewardgym.agents.runs import evaluate_any

    print_evaluations([evaluate_any(args.run_dir, args.episodes)])
    return 0


def print_evaluations(results: list[dict[str, Any]]) -> None:
    """One line per run: its seed's success rate (one episode per fresh env; the seed is the unit, so no interval)."""
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("run", "seed", "episodes", "success rate"):
        table.add_column(column)
    for result in results:
        table.add_row(result["run"], str(result["seed"]), str(result["episodes"]), f"{result['success_rate']:.2f}")
    console.print(table)


def render_command(args: argparse.Namespace) -> int:
    """Record one episode of a trained run (its policy) or of an env id (random actions)."""
    target = args.target
    if Path(target).is_dir():
        env, policy = run_policy(Path(target))
        label = f"the policy of {target}"
    else:
        env = gym.make(env_id(target), render_mode="rgb_array", **dict(args.env_kwargs))
        policy, label = random_policy(env), "random actions"
    frames, success = play_episode(env, policy)
    write_video(args.out, frames, env.metadata["render_fps"])
    console.print(f"{label}: {'success' if success else 'no success'} in {len(frames) - 1} steps -> {args.out}")
    return 0


def run_policy(run_dir: Path) -> tuple[gym.Env, Policy]:
    """A rendering env of a run's task and the run's trained policy (deterministic)."""
    from rewardgym.agents import fast_ppo_run
    from rewardgym.agents.training import RunConfig, load_model

    config = RunConfig.load(run_dir)
    env = gym.make(config.env_id, render_mode="rgb_array", **config.env_kwargs)
    if config.algo == "fast-ppo":
        return env, fast_ppo_run.single_env_policy(fast_ppo_run.load_run(run_dir)[1])
    model = load_model(run_dir, env)
    return env, lambda observation: model.predict(observation, deterministic=True)[0]


def play_command(args: argparse.Namespace) -> int:
    """Play a discrete-action env with the keyboard (w a s d) in a pygame window."""
    from gymnasium.utils.play import play

    env = gym.make(args.env, render_mode="rgb_array", **dict(args.env_kwargs))
    keys = env.unwrapped.get_keys_to_action()
    if not keys:
        raise SystemExit(f"{args.env} has no keyboard bindings (only discrete-action envs can be played)")
    play(env, keys_to_action=keys, noop=args.noop, fps=args.fps, seed=args.seed, wait_on_player=True)
    return 0


# -- report -------------------------------------------------------------------------------------


def report_command(args: argparse.Namespace) -> int:
    """Run (or resume) a report and write its pages; or compare two reports."""
    import shlex
    import sys

    from rewardgym.report import Method, load_protocol, run_report, write_comparison, write_report

    if args.sweep:
        from rewardgym.sweep.table import write_sweep_page

        console.print(f"sweep report: {write_sweep_page(args.sweep, args.out or args.sweep)}")
        return 0
    if args.out is None:
        raise ValueError("report: --out is required (only --sweep writes into the sweep's own directory by default)")
    if args.compare:
        console.print(f"comparison: {write_comparison(*args.compare, args.out)}")
        return 0
    method = Method(args.reward, args.bonus, args.bonus_coef)
    protocol = load_protocol(args.protocol)  # every problem is reported here, before anything runs
    command = shlex.join(["rewardgym", *sys.argv[1:]])
    try:
        run_report(method, protocol, args.out, command=command)
    except KeyboardInterrupt:
        console.print(f"interrupted: finished entries are kept in {args.out}; rerun the command to resume",
                      soft_wrap=True)
        return 130
    finally:
        if (args.out / "report.json").exists():
            write_report(args.out)
    console.print(f"report: {args.out / 'report.html'}")
    return 0


# -- sweep --------------------------------------------------------------------------------------


def sweep_command(args: argparse.Namespace) -> int:
    """Run (or resume) a sweep, locally or on Ray Tune, and write its tables."""
    import shlex
    import sys

    from rewardgym.sweep import load_sweep, run_local, write_tables
    from rewardgym.sweep.runner import pending

    sweep = load_sweep(args.sweep)  # every problem is reported here, before any trial starts
    command = shlex.join(["rewardgym", *sys.argv[1:]])
    if args.runner == "local" and (args.address or args.storage):
        raise ValueError("--address and --storage apply only to --runner ray")
    if args.runner == "ray":
        from rewardgym.sweep.ray_runner import import_tune, run_ray

        try:
            import_tune()
        except ImportError as error:
            console.print(str(error), soft_wrap=True)
            return 2
    try:
        if args.runner == "ray":
            run_ray(sweep, args.out, args.address, args.storage, args.cpus_per_trial, command)
        else:
            run_local(sweep, args.out, command=command)
    except KeyboardInterrupt:
        console.print(f"interrupted: finished trials are kept in {args.out}; rerun the command to resume",
                      soft_wrap=True)
        return 130
    finally:
        if (args.out / "sweep.json").exists():
            write_tables(sweep, args.out)
    unfinished = len(pending(sweep, args.out))
    if unfinished:  # Tune stops on Ctrl-C, or with failed trials, without raising
        console.print(f"{unfinished} trials unfinished: finished trials are kept in {args.out}; rerun the command to "
                      "resume", soft_wrap=True)
        return 1
    console.print(f"sweep: {args.out / 'sweep.md'} (the page: rewardgym report --sweep {args.out})", soft_wrap=True)
    return 0


# -- the parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``rewardgym`` parser: each subcommand sets ``run`` to its command function."""
    parser = argparse.ArgumentParser(
        prog="rewardgym", description="Sparse-reward Gymnasium envs: list them, train and evaluate baselines, render, play."
    )
    parser.add_argument("--version", action="version", version=f"rewardgym {rewardgym.__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="list the registered envs, their spaces and reward variants")
    listing.set_defaults(run=list_command)

    demo = commands.add_parser("demo", help="the quick start's main job: a short PPO experiment, a video, maps, throughput")
    demo.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (default: %(default)s)")
    demo.add_argument("--steps", type=int, default=200_000, help="PPO steps per reward (default: %(default)s)")
    demo.add_argument("--seconds", type=positive_float, default=0.5, help="seconds per throughput cell (default: %(default)s)")
    demo.set_defaults(run=demo_command)

    bench = commands.add_parser("bench", help="measure steps per second at several batch sizes")
    bench.add_argument("--seconds", type=positive_float, default=2.0, help="seconds per cell (default: %(default)s)")
    bench.add_argument("--ids", nargs="+", type=env_id, default=rewardgym.registered_ids(), metavar="ID", help="env ids (default: all)")
    bench.set_defaults(run=bench_command)

    train = commands.add_parser("train", help="train a baseline (checkpoints, --resume, TensorBoard), then evaluate it")
    train.add_argument("env", type=env_id, help="env id")
    train.add_argument("--algo", choices=["ppo", "sac", "dqn", "her-sac", "fast-ppo"], default="ppo",
                       help="an SB3 algorithm, or fast-ppo (PPO on the torch batch, seeds trained together)")
    train.add_argument("--reward", default="sparse", help="the env's reward variant (see `rewardgym list`)")
    train.add_argument("--bonus", default=None, help="an intrinsic bonus added to the reward (e.g. rnd, e3b, count)")
    train.add_argument("--bonus-coef", type=float, default=0.01, help="weight of the normalised bonus (default: %(default)s)")
    train.add_argument("--steps", type=int, default=None, help="env steps (default: the hyperparameter file's)")
    train.add_argument("--seed", type=int, default=0, help="the first seed")
    train.add_argument("--seeds", type=positive_int, default=1,
                       help="how many seeds (seed, seed+1, …), each in OUT/seed_<k> when more than one")
    train.add_argument("--num-envs", type=int, default=None,
                       help="parallel envs per seed (default: the hyperparameter file's)")
    train.add_argument("--checkpoint-every", type=int, default=50_000, help="env steps between checkpoints")
    train.add_argument("--env-kwargs", nargs="*", type=key_value, default=[], metavar="NAME=VALUE", help="env arguments")
    train.add_argument("--eval-episodes", type=positive_int, default=256,
                       help="evaluation: one greedy episode in each of this many fresh envs (held-out levels)")
    train.add_argument("--out", type=Path, required=True, help="the run directory")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.set_defaults(run=train_command)

    evaluation = commands.add_parser("eval", help="the success rate of a trained run on the sparse task")
    evaluation.add_argument("run_dir", type=Path, metavar="RUN", help="a run directory written by `rewardgym train`")
    evaluation.add_argument("--episodes", type=positive_int, default=256,
                            help="one greedy episode in each of this many fresh envs (held-out levels)")
    evaluation.set_defaults(run=eval_command)

    render = commands.add_parser("render", help="record an episode of a run's policy or of an env with random actions")
    render.add_argument("target", help="a run directory or an env id")
    render.add_argument("--out", type=Path, required=True, help="the video, ending in .gif or .mp4")
    render.add_argument("--env-kwargs", nargs="*", type=key_value, default=[], metavar="NAME=VALUE")
    render.set_defaults(run=render_command)

    report = commands.add_parser(
        "report", help="train a reward method over a fixed protocol of every family; an HTML report card",
        description="Run a reward method (--reward and/or --bonus) over a protocol and write report.html, report.md "
                    "and report.csv to --out; rerun the same command to resume. With --compare A B, compare two "
                    "finished reports of one protocol instead.")
    report.add_argument("--protocol", default="smoke", help="smoke (a quick check), full, or a protocol .yaml file")
    report.add_argument("--reward", default="sparse", help="the reward variant the agents train on")
    report.add_argument("--bonus", default=None, help="an intrinsic bonus (e.g. count, rnd, e3b, ngu)")
    report.add_argument("--bonus-coef", type=positive_float, default=0.01, help="the bonus's weight (default: %(default)s)")
    report.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="two report directories to compare")
    report.add_argument("--sweep", type=Path, metavar="DIR", help="render a sweep directory as a report page instead")
    report.add_argument("--out", type=Path, help="the report directory (with --sweep, default: the sweep's)")
    report.set_defaults(run=report_command)

    sweep = commands.add_parser(
        "sweep", help="run a grid of rewards, bonuses, coefficients, hyperparameters and seeds (locally or on Ray)",
        description="Run every trial of a sweep file into --out (one run directory per trial), then write trials.csv "
                    "and sweep.md; rerun the same command to resume. See examples/sweep.yaml.")
    sweep.add_argument("sweep", type=Path, metavar="SWEEP.yaml", help="the sweep file")
    sweep.add_argument("--out", type=Path, required=True, help="the sweep directory")
    sweep.add_argument("--runner", choices=["local", "ray"], default="local",
                       help="local: in this process, seeds batched in fast-ppo (default); ray: on Ray Tune")
    sweep.add_argument("--address", default=None, help="Ray: an existing cluster's address (HEAD:6379); default: start Ray here")
    sweep.add_argument("--storage", default=None,
                       help="Ray: where Tune keeps results and checkpoints, reachable from every node (default: OUT/ray)")
    sweep.add_argument("--cpus-per-trial", type=positive_int, default=1,
                       help="Ray: CPUs per trial, and torch threads in it (default: %(default)s)")
    sweep.set_defaults(run=sweep_command)

    play = commands.add_parser("play", help="play a discrete env yourself with the keyboard (w a s d)")
    play.add_argument("env", type=env_id)
    play.add_argument("--env-kwargs", nargs="*", type=key_value, default=[], metavar="NAME=VALUE")
    play.add_argument("--fps", type=int, default=10)
    play.add_argument("--seed", type=int, default=None)
    play.add_argument("--noop", type=int, default=0, help="the action taken when no key is pressed")
    play.set_defaults(run=play_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``rewardgym`` command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)
