"""Command-line flags generated from a stage's config dataclass.

Every stage has one typed config (`ValidateConfig`, `ClusterConfig`, ...);
its flags are made from it, one `--name` per field:

* the type comes from the annotation (`int`, `float`, `str`, `bool`: a
  switch; `X | None`: an X); `Literal[...]` gives the flag's choices;
* the default is the field's default (a field without one is required);
* the help text is the field's entry in the `Attributes:` section of the
  config's docstring (`attribute_help`), else the entry of a shared group
  (`EdgeFlags`, `ModalityFlags`); the default is shown after it;
* a field whose value is not a plain type names its parser in
  `metadata={"parse": function}` (the flag's text goes through it; with
  `"repeated": True` the flag may be given several times and the parser
  gets the list).

Fields of a shared group are listed under that group in `--help`, so the
edge and modality flags read the same in every stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

from pipelines.io import modalities as modalities_lib
from pipelines import runner

EdgeCombine = Literal["max", "sum"]
Engine = Literal["beam", "local"]


@dataclasses.dataclass
class EdgeFlags:
  """The edge input of a stage (contract 1).

  Attributes:
    edges: edge files: glob(s), comma-separated.
    edge_format: csv|tsv|tfrecord|auto (auto: from the name of the first --edges file).
    edge_combine: duplicate edges: keep the largest weight (max) or add them up (sum).
  """
  edges: str = ""
  edge_format: str = "auto"
  edge_combine: EdgeCombine = "max"


@dataclasses.dataclass
class ModalityFlags:
  """The feature vectors a stage reads.

  Attributes:
    modalities: feature vectors as name:dim,name:dim (default: detected from the records).
  """
  modalities: tuple | None = None


GROUPS = {"edges": EdgeFlags, "modalities": ModalityFlags}


def modalities_field(**kwargs) -> Any:
  """A config's `modalities` field: None (detect) by default, parsed from name:dim,...

  Args:
    **kwargs: more `dataclasses.field` arguments.

  Returns:
    The field.
  """
  return dataclasses.field(default=None, metadata={"parse": modalities_lib.parse_flag}, **kwargs)


def attribute_help(*classes) -> dict[str, str]:
  """Per-field help text from the `Attributes:` sections of config docstrings.

  A docstring entry may name several fields (`a / b:` or `a, b, c:`); each
  gets the entry's text. Continuation lines are joined. The first class that
  documents a field wins.

  Args:
    *classes: dataclasses whose docstrings hold an `Attributes:` section.

  Returns:
    Field name -> one-line help text.
  """
  texts = {}
  for cls in classes:
    doc = cls.__doc__ or ""
    if "Attributes:" not in doc:
      continue
    lines = [l for l in doc.split("Attributes:", 1)[1].splitlines() if l.strip()]
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    names, words = [], []
    for line in lines + [" " * indent + "end:"]:
      entry = re.match(r"^ {%d}([a-z_][a-z_0-9 ,/]*):\s*(.*)$" % indent, line)
      if entry:
        for name in names:
          texts.setdefault(name, " ".join(words))
        names = [n for n in re.split(r"[ ,/]+", entry.group(1)) if n]
        words = [entry.group(2)]
      elif names:
        words.append(line.strip())
  return texts


def flag_type(annotation) -> tuple[type, tuple | None]:
  """The argparse type and choices of a field's annotation; `X | None` is X.

  Args:
    annotation: the field's type (`int`, `str | None`, `Literal["a", "b"]`, ...).

  Returns:
    (argparse type: int, float, str or bool, else str; the Literal's choices or None).
  """
  if typing.get_origin(annotation) in (typing.Union, types.UnionType):
    annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
  if typing.get_origin(annotation) is Literal:
    choices = typing.get_args(annotation)
    return type(choices[0]), choices
  return (annotation if annotation in (int, float, str, bool) else str), None


def _shown(value) -> str:
  if value is None or value == "" or value is False:
    return ""
  return f" (default: {value})"


def add_flags(parser: argparse.ArgumentParser, cls, skip: tuple = ()) -> None:
  """Adds one flag per field of the dataclass `cls` to `parser`.

  Args:
    parser: the stage's parser.
    cls: the stage's config dataclass.
    skip: field names that get no flag (the caller fills them in).
  """
  helps = attribute_help(cls, *GROUPS.values())
  hints = typing.get_type_hints(cls)
  groups = {}
  for field in dataclasses.fields(cls):
    if field.name in skip:
      continue
    kind, choices = flag_type(hints[field.name])
    group_name = next((g for g, group in GROUPS.items()
                       if field.name in group.__dataclass_fields__), None)
    target = parser
    if group_name:
      if group_name not in groups:
        groups[group_name] = parser.add_argument_group(group_name)
      target = groups[group_name]
    required = field.default is dataclasses.MISSING and \
        field.default_factory is dataclasses.MISSING
    default = None if required else (
        field.default if field.default is not dataclasses.MISSING else field.default_factory())
    text = helps.get(field.name, "").replace("%", "%%")
    if "parse" in field.metadata:
      kind, default, shown = str, None, ""
    else:
      shown = "" if required else _shown(default)
    kwargs = {"action": "store_true"} if kind is bool else {"type": kind, "choices": choices}
    if field.metadata.get("repeated"):
      kwargs["action"] = "append"
    target.add_argument(f"--{field.name}", required=required, default=default,
                        help=(text + shown) or None, **kwargs)


def nested_fields(cls, prefix: tuple = ()) -> dict[str, tuple[tuple[str, ...], type, Any]]:
  """The plain fields of a dataclass and of the dataclasses nested in it, by name.

  A field whose type is a dataclass (a nested config) is walked into, depth
  first in field order, instead of being listed. A name used twice is a ValueError.

  Args:
    cls: a config dataclass.
    prefix: the path of `cls` inside the outer config.

  Returns:
    Field name -> (its path of attribute names, e.g. `("trainer", "batch_size")`,
    the dataclass that declares it, its resolved type).
  """
  found = {}
  hints = typing.get_type_hints(cls)
  for field in dataclasses.fields(cls):
    path, hint = prefix + (field.name,), hints[field.name]
    inner = (nested_fields(hint, path) if dataclasses.is_dataclass(hint)
             else {field.name: (path, cls, hint)})
    for name, entry in inner.items():
      if name in found:
        raise ValueError(f"{cls.__name__}: two nested fields are named {name!r}")
      found[name] = entry
  return found


def add_override_flags(parser: argparse.ArgumentParser, sources: list,
                       default_text: Callable[[str], str] = lambda name: "") -> tuple[str, ...]:
  """Adds flags that override a preset: every default is None (not given).

  A command whose config starts from a preset (`gcml train --preset=NAME`)
  applies only the flags the user gave, so none may have a default of its
  own; `default_text` says in `--help` what the preset gives instead. A
  `bool` field is a switch (given: True). Named fields may lie in the
  dataclasses nested in a source (`nested_fields`: a grouped config keeps
  flat flag names); with no names, a field whose type is a dataclass gets
  no flag (its own flags come from its own source).

  Args:
    parser: the command's parser.
    sources: (config dataclass, the names of the fields that get a flag, in
      order, its own or its nested configs', or None for every plain field
      of the dataclass itself in its order) pairs.
    default_text: flag name -> the text after its help (the preset's value);
      not called for switches.

  Returns:
    The flag names, in order.
  """
  names = []
  for cls, wanted in sources:
    fields = nested_fields(cls)
    if wanted is None:
      wanted = [f.name for f in dataclasses.fields(cls) if f.name in fields]
    for name in wanted:
      _, owner, hint = fields[name]
      kind = flag_type(hint)[0]
      text = attribute_help(owner).get(name, "").replace("%", "%%")
      if kind is bool:
        parser.add_argument(f"--{name}", action="store_true", default=None, help=text)
      else:
        parser.add_argument(f"--{name}", type=kind, default=None,
                            help=text + default_text(name).replace("%", "%%"))
      names.append(name)
  return tuple(names)


def config_from_args(cls, args: argparse.Namespace, **values):
  """Builds `cls` from parsed flags (`metadata` parsers applied) and `values`.

  Args:
    cls: the config dataclass whose flags `args` holds.
    args: the parsed flags.
    **values: fields set by the caller (given no flag).

  Returns:
    The config.
  """
  for field in dataclasses.fields(cls):
    if field.name in values:
      continue
    value = getattr(args, field.name)
    if "parse" in field.metadata:
      value = field.metadata["parse"](value)
    values[field.name] = value
  return cls(**values)


def stage_parser(prog: str, doc: str, cls, skip: tuple = ()) -> argparse.ArgumentParser:
  """A stage's parser: its description (the docstring's first line) and its config's flags.

  Args:
    prog: `gcml <stage>`.
    doc: the stage module's docstring.
    cls: the stage's config dataclass.
    skip: field names that get no flag.

  Returns:
    The parser (prefixes of flags are not taken as the flags: `allow_abbrev=False`).
  """
  parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0],
                                   allow_abbrev=False)
  add_flags(parser, cls, skip)
  return parser


def parse_stage_config(prog: str, doc: str, cls, argv,
                       beam_engine_only: bool = False) -> tuple[Any, list]:
  """Parses a stage's command line into its config and the Beam pipeline options.

  Args:
    prog: `gcml <stage>`.
    doc: the stage module's docstring (its first line describes the stage).
    cls: the stage's config dataclass.
    argv: the command line after the subcommand.
    beam_engine_only: Beam options are taken only with `--engine=beam`
      (otherwise they are unrecognized arguments, an argparse error).

  Returns:
    (config, the arguments for `runner.pipeline_options`).

  Raises:
    InputError: a flag that neither the stage nor Beam knows (`runner.parse_stage_args`).
  """
  parser = stage_parser(prog, doc, cls)
  known, pipeline_args = runner.parse_stage_args(parser, argv)
  if beam_engine_only and pipeline_args and known.engine != "beam":
    parser.error(f"unrecognized arguments: {' '.join(pipeline_args)}")
  return config_from_args(cls, known), pipeline_args
