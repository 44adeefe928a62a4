"""`datavault validate` on broken projects: every problem, exactly located, all at once.

Tier: engine-free. No database is touched; each test copies the example project (the
`example_project` fixture), breaks it with a few targeted edits, runs the real CLI through
click's CliRunner and compares the exact `path:line:col: message (hint)` lines on stderr.
A broken file must not produce follow-up errors in the files that refer to it.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from datavault import api
from datavault.cli import main
from datavault.kinds import KINDS
from tests.conftest import write_project

HUB = "models/hubs/customer.yml"
LINK = "models/links/order_customer.yml"
SAT = "models/satellites/customer_details.yml"
CRM = "models/sources/crm_customers.yml"
CONFIG = "config/datavault.yml"


def edit(root: Path, relative: str, old: str, new: str) -> None:
    """Replace the single occurrence of ``old`` in one project file."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {relative} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def run_validate(root: Path) -> Result:
    result = CliRunner().invoke(main, ["-p", str(root), "validate"])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def problems(root: Path) -> list[str]:
    """The problem lines of a failing `validate`, checking exit code and the count line."""
    result = run_validate(root)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    *lines, count = result.stderr.splitlines()
    assert count == f"{len(lines)} problem{'s' if len(lines) != 1 else ''} found"
    return lines


# ---- the valid project and the project folder ----------------------------------------------
def test_the_example_project_is_valid(example_project: Path) -> None:
    result = run_validate(example_project)
    assert result.exit_code == 0, result.output
    assert result.stdout == ("ok: 3 sources, 2 hubs, 1 link, 2 satellites, "
                             "1 multi-active satellite, 1 effectivity satellite, 3 marts\n")
    assert result.stderr == ""


def test_a_folder_without_models_gives_one_clear_message(tmp_path: Path) -> None:
    result = run_validate(tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path.resolve()} has no models/ folder, so it is not a datavault project; "
        "point --project (-p) at a project folder, or run `datavault init DIR` to start one\n"
    )


def test_a_missing_project_folder_is_named(tmp_path: Path) -> None:
    result = run_validate(tmp_path / "nowhere")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: project folder {(tmp_path / 'nowhere').resolve()} does not exist; "
        "check --project (-p)\n"
    )


# ---- one edit, one problem ---------------------------------------------------------------
ONE_EDIT = {
    "unknown hub in a link": (
        LINK, "[order, customer]", "[order, custmer]",
        "models/links/order_customer.yml:2:15: unknown hub 'custmer' "
        "(did you mean 'customer'?)",
    ),
    "a link joins a satellite": (
        LINK, "[order, customer]", "[order, customer_details]",
        "models/links/order_customer.yml:2:15: unknown hub 'customer_details' "
        "('customer_details' is a satellite; a link joins hubs)",
    ),
    # the satellite on this hub's crm_customers feed is not reported again
    "unknown source column in a hub feed": (
        HUB, "crm_customers:\n    customer_number: customer_id",
        "crm_customers:\n    customer_number: customer_idd",
        "models/hubs/customer.yml:6:22: source 'crm_customers' has no column 'customer_idd' "
        "(did you mean 'customer_id'?)",
    ),
    "unknown payload column": (
        SAT, "[name, email, city]", "[name, e_mail, city]",
        "models/satellites/customer_details.yml:4:17: source 'crm_customers' has no column "
        "'e_mail' (did you mean 'email'?)",
    ),
    "satellite without a parent": (
        SAT, "parent: customer\n", "",
        "models/satellites/customer_details.yml:1:1: missing required key 'parent'",
    ),
    "satellite with an unknown parent": (
        SAT, "parent: customer", "parent: client",
        "models/satellites/customer_details.yml:2:9: unknown parent 'client' "
        "(expected one of: customer, order, order_customer)",
    ),
    "satellite whose source does not feed its hub": (
        SAT, "parent: customer", "parent: order",
        "models/satellites/customer_details.yml:3:9: source 'crm_customers' does not feed "
        "hub 'order', so its rows have no key "
        "(add crm_customers under sources: in models/hubs/order.yml)",
    ),
    "satellite whose source does not feed its link": (
        SAT, "parent: customer", "parent: order_customer",
        "models/satellites/customer_details.yml:3:9: source 'crm_customers' does not feed "
        "link 'order_customer', so its rows have no key "
        "(add crm_customers under sources: in models/links/order_customer.yml)",
    ),
    "duplicate key in one file": (
        CRM, "  city: text\n", "  city: text\n  email: text\n",
        "models/sources/crm_customers.yml:10:3: duplicate key 'email' (first given on line 8) "
        "(remove one of them)",
    ),
    "float business key on the hub": (
        HUB, "customer_number: text", "customer_number: float",
        "models/hubs/customer.yml:3:20: key part 'customer_number' is a float (a float has no "
        "exact text and cannot be part of a business key; use decimal or integer)",
    ),
    "float business key column in the source": (
        CRM, "customer_id: text", "customer_id: float",
        "models/hubs/customer.yml:6:22: column 'customer_id' of source 'crm_customers' is a "
        "float and cannot be a business key "
        "(floats have no exact text; declare it as decimal or integer in the source)",
    ),
    # the typo explains the missing `columns:`, so that is not reported separately
    "unknown top-level key": (
        CRM, "columns:", "colums:",
        "models/sources/crm_customers.yml:5:1: unknown key 'colums' (did you mean 'columns'?)",
    ),
    "unknown column type": (
        CRM, "city: text", "city: txt",
        "models/sources/crm_customers.yml:9:9: unknown type 'txt' for column 'city' "
        "(did you mean 'text'?)",
    ),
    # the link and the satellite that name this hub are not reported again
    "invalid YAML syntax": (
        HUB, "\nsources:", "\n sources:",
        "models/hubs/customer.yml:4:2: invalid YAML: did not find expected key "
        "(check indentation and quoting)",
    ),
    "tab in the indentation": (
        SAT, "source:", "\tsource:",
        "models/satellites/customer_details.yml:3:1: invalid YAML: found a tab character "
        "that violates indentation (indent with spaces, not tabs)",
    ),
    "type of a key part differs from its source column": (
        CRM, "customer_id: text", "customer_id: integer",
        "models/hubs/customer.yml:6:22: column 'customer_id' of source 'crm_customers' is "
        "integer but key part 'customer_number' is text (declare both with the same type)",
    ),
    "bad config value": (
        CONFIG, "hash: md5", "hash: md4",
        "config/datavault.yml:2:7: unknown hash algorithm 'md4' (use md5 or sha256)",
    ),
    "naming pattern that takes the toolkit's prefix": (
        CONFIG, "hub: hub_{name}", "hub: dv_{name}",
        "config/datavault.yml:5:8: naming pattern 'dv_{name}' starts with dv_ "
        "(dv_ is kept for the toolkit's own tables; use another prefix)",
    ),
    "link hub role named like the link": (
        LINK, "[order, customer]", "[order, order_customer: customer]",
        "models/links/order_customer.yml:2:15: hub role 'order_customer' has the name of the "
        "link itself (its key column would be the link's own key column order_customer_hk; "
        "name the role, for example - buyer: customer)",
    ),
    "link source without the columns of one hub": (
        LINK, "    customer: customer_ref\n", "",
        "models/links/order_customer.yml:4:3: source 'shop_orders': no columns given for hub "
        "'customer' (add `customer: COLUMN` under shop_orders:)",
    ),
    "hub key part named like a key column": (
        HUB, "customer_number: text", "customer_hk: text",
        "models/hubs/customer.yml:3:3: key part name 'customer_hk' is reserved (names ending "
        "in _hk or starting with dv_, and applied_ts, batch_id, hash_diff, load_ts, "
        "record_source are the toolkit's; rename it)",
    ),
    "empty business key": (
        HUB, "business_key:\n  customer_number: text\n", "business_key: {}\n",
        "models/hubs/customer.yml:2:15: a business key needs at least one part "
        "(for example: business_key: {customer_number: text})",
    ),
    "empty list of columns": (
        CRM, "columns:\n  customer_id: text\n  name: text\n  email: text\n  city: text\n"
        "  extracted_at: timestamp\n", "columns: {}\n",
        "models/sources/crm_customers.yml:5:10: a source needs at least one column",
    ),
    "a list where a name belongs": (
        SAT, "parent: customer", "parent: [customer]",
        "models/satellites/customer_details.yml:2:9: parent must be a name, not a list",
    ),
    "a mapping where a column name belongs": (
        CRM, "applied_at: extracted_at", "applied_at: {column: extracted_at}",
        "models/sources/crm_customers.yml:4:13: applied_at must be a name, not a mapping",
    ),
    "a list where a profile name belongs": (
        CONFIG, "profile: local", "profile: [local]",
        "config/datavault.yml:14:10: profile must be a name, not a list",
    ),
}


@pytest.mark.parametrize(("relative", "old", "new", "expected"), ONE_EDIT.values(),
                         ids=ONE_EDIT.keys())
def test_one_edit_gives_one_exact_problem(example_project: Path, relative: str, old: str,
                                          new: str, expected: str) -> None:
    edit(example_project, relative, old, new)
    assert problems(example_project) == [expected]


# ---- problems that take more than one edit ---------------------------------------------------
def test_one_name_for_two_entities(example_project: Path) -> None:
    shutil.copy(example_project / SAT, example_project / "models/satellites/customer.yml")
    shutil.copy(example_project / SAT, example_project / "models/satellites/order_customer.yml")
    assert problems(example_project) == [
        "models/satellites/customer.yml:1:1: name 'customer' is already used by "
        "models/hubs/customer.yml (hubs, links and satellites need distinct names)",
        "models/satellites/order_customer.yml:1:1: name 'order_customer' is already used by "
        "models/links/order_customer.yml (hubs, links and satellites need distinct names)",
    ]


def test_one_source_in_two_files(example_project: Path) -> None:
    shutil.copy(example_project / CRM, example_project / "models/sources/crm_customers.yaml")
    assert problems(example_project) == [
        "models/sources/crm_customers.yml:1:1: name 'crm_customers' is already used by "
        "models/sources/crm_customers.yaml (sources need distinct names)",
    ]


def test_an_empty_file_is_reported_next_to_other_problems(example_project: Path) -> None:
    edit(example_project, CONFIG, "hash: md5", "hash: md4")
    write_project(example_project, {HUB: ""})
    assert problems(example_project) == [
        "config/datavault.yml:2:7: unknown hash algorithm 'md4' (use md5 or sha256)",
        "models/hubs/customer.yml:1:1: the file is empty "
        "(a hub needs business_key: and sources:)",
    ]


def test_files_that_would_not_be_read(example_project: Path) -> None:
    write_project(example_project, {
        "models/satelites/customer_notes.yml": "parent: customer\n",
        "models/hubs/extra/product.yml": "business_key: {sku: text}\n",
        "models/product.yml": "business_key: {sku: text}\n",
    })
    found = problems(example_project)
    assert found[0::2] == [
        "models/hubs/extra:1:1: folder models/hubs/extra/ is not read "
        "(model files go directly in models/hubs/)",
        "models/satelites:1:1: unknown folder models/satelites/, its files are not read "
        "(did you mean 'satellites'?)",
    ]
    # the hint names the folder of every kind, whichever kinds there are
    assert found[1].startswith(
        "models/product.yml:1:1: model file outside a kind folder, it is not read "
        "(move it to the folder of its kind: models/sources/, models/hubs/, models/links/, "
        "models/satellites/, ")
    assert found[1].endswith(" or models/marts/)")
    assert all(f"models/{kind.folder}/" in found[1] for kind in KINDS.values())


def test_double_underscore_in_an_entity_name(example_project: Path) -> None:
    shutil.rmtree(example_project / "models/marts")  # they name the satellite
    (example_project / SAT).rename(example_project / "models/satellites/customer__details.yml")
    assert problems(example_project) == [
        "models/satellites/customer__details.yml:1:1: name 'customer__details' contains __ "
        "(__ separates the parts of the toolkit's own names (like sat_NAME__obs); "
        "use a single _)",
    ]


def test_two_entities_with_one_table_name(example_project: Path) -> None:
    edit(example_project, CONFIG, "hub: hub_{name}", "hub: '{name}_details'")
    edit(example_project, CONFIG, "satellite: sat_{name}", "satellite: '{name}'")
    assert problems(example_project) == [
        "models/satellites/customer_details.yml:1:1: table name 'customer_details' of "
        "satellite 'customer_details' is also the table of hub 'customer' "
        "(rename one of them, or change naming: in config/datavault.yml)",
    ]


def test_names_too_long_for_the_database(example_project: Path) -> None:
    long_link, role = "customer_placed_order_in_the_web_shop_v2", "ordering_customer_account"
    relative = f"models/links/{long_link}.yml"
    shutil.rmtree(example_project / "models/marts")  # they name the link
    shutil.rmtree(example_project / "models/effectivity_satellites")  # so does it
    (example_project / LINK).rename(example_project / relative)
    edit(example_project, relative, "[order, customer]", f"[order, {role}: customer]")
    edit(example_project, relative, "customer: customer_ref", f"{role}: customer_ref")
    stage = f"dv_hk_{long_link}__{role}"
    index = f"ix_link_{long_link}_{role}"
    assert problems(example_project) == [
        f"{relative}:2:15: the index name would be '{index}', longer than 63 characters "
        "(databases cut or refuse such names; use a shorter name)",
        f"{relative}:2:15: the staging column would be '{stage}', longer than 63 characters "
        "(databases cut or refuse such names; use a shorter name)",
    ]


def test_the_longest_name_fits_every_engine() -> None:
    """A model's names fit the shortest limit of every engine, and no shorter one."""
    from datavault.dialects import DIALECTS
    from datavault.metadata.checks import MAX_IDENTIFIER

    limits = [d.max_identifier_length for d in DIALECTS.values()]
    assert MAX_IDENTIFIER == min(limit for limit in limits if limit is not None)


def test_a_naming_pattern_that_makes_a_table_name_too_long(example_project: Path) -> None:
    pattern = "hub_" + "x" * 52 + "_{name}"  # 65 characters for customer, 62 for order
    edit(example_project, CONFIG, "hub: hub_{name}", f"hub: {pattern}")
    assert problems(example_project) == [
        "models/hubs/customer.yml:1:1: the table name of hub 'customer' would be "
        f"'{pattern.format(name='customer')}', longer than 63 characters "
        "(databases cut or refuse such names; use a shorter name)",
    ]


def test_problems_in_several_files_are_reported_together_and_sorted(
    example_project: Path,
) -> None:
    edit(example_project, "models/sources/shop_orders.yml", "batch: delta", "batch: full")
    edit(example_project, "models/satellites/order_status.yml", "status: status", "status: state")
    edit(example_project, LINK, "[order, customer]", "[order, custmer]")
    edit(example_project, "models/hubs/order.yml", "order_number: text", "order_number: txt")
    edit(example_project, CONFIG, "null_keys: reject", "null_keys: drop")
    assert problems(example_project) == [
        "config/datavault.yml:3:12: unknown null-key policy 'drop' "
        "(use reject (rows without a key go to quarantine) or zero_key)",
        "models/hubs/order.yml:3:17: unknown type 'txt' for key part 'order_number' "
        "(did you mean 'text'?)",
        "models/links/order_customer.yml:2:15: unknown hub 'custmer' (did you mean 'customer'?)",
        "models/satellites/order_status.yml:5:11: source 'shop_orders' has no column 'state' "
        "(did you mean 'status'?)",
        "models/sources/shop_orders.yml:3:8: unknown batch kind 'full' "
        "(use snapshot (every batch holds every key) or delta (only changes))",
    ]


# ---- max_deletes: the mass-delete limit of a snapshot source -------------------------------
def append(root: Path, relative: str, line: str) -> str:
    """Add a line at the end of a project file; returns its place as ``path:line``."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    path.write_text(text + line + "\n", encoding="utf-8")
    return f"{relative}:{text.count(chr(10)) + 1}"


@pytest.mark.parametrize(("value", "message"), [
    ("50", "max_deletes must be a percentage, not the number 50 "
           "(write it with a % sign, e.g. max_deletes: 50%)"),
    ("0.5", "max_deletes must be a percentage, not the number 0.5 "
            "(write it with a % sign, e.g. max_deletes: 50%)"),
    ("half", "max_deletes must be a percentage, not 'half' "
             "(write it with a % sign, e.g. max_deletes: 50%)"),
    ("[50%]", "max_deletes must be a percentage, not a list "
              "(write it with a % sign, e.g. max_deletes: 50%)"),
    ("1000", "max_deletes must be a percentage, not the number 1000 "
             "(write it with a % sign, e.g. max_deletes: 50%)"),
    ("150%", "max_deletes 150% is not between 0% and 100% "
             "(0% refuses a snapshot that would delete any key; 100% sets no limit)"),
    ("-5%", "max_deletes -5% is not between 0% and 100% "
            "(0% refuses a snapshot that would delete any key; 100% sets no limit)"),
])
def test_max_deletes_must_be_a_percentage(example_project: Path, value: str,
                                          message: str) -> None:
    where = append(example_project, CRM, f"max_deletes: {value}")
    assert problems(example_project) == [f"{where}:14: {message}"]


def test_max_deletes_on_a_delta_source_is_refused(example_project: Path) -> None:
    where = append(example_project, "models/sources/shop_orders.yml", "max_deletes: 10%")
    assert problems(example_project) == [
        f"{where}:1: max_deletes is for snapshot sources: a delta source deletes nothing "
        "(remove it, or declare batch: snapshot if every batch holds every key)"]


@pytest.mark.parametrize(("value", "percent"), [
    (None, "50"), ("12.5%", "12.5"), ("0%", "0"), ("100 %", "100")])
def test_max_deletes_reaches_the_model(example_project: Path, value: str | None,
                                       percent: str) -> None:
    if value is not None:
        append(example_project, CRM, f"max_deletes: {value}")
    source = api.validate(example_project).model.sources["crm_customers"]
    assert source.max_deletes == Decimal(percent)


# ---- YAML a reader must survive: every case a problem with its place, never a traceback ----
TAG_PROBLEMS = {
    "a boolean tag on a word": (
        "!!bool maybe", "9:9: tag !!bool does not fit 'maybe': it takes true or false "
        "(remove the tag, or change the value)"),
    "an integer tag on a word": (
        "!!int x", "9:9: tag !!int does not fit 'x': it takes a whole number "
        "(remove the tag, or change the value)"),
    "an integer tag on nothing": (
        "!!int ''", "9:9: tag !!int does not fit '': it takes a whole number "
        "(remove the tag, or change the value)"),
    "a float tag on a word": (
        "!!float x", "9:9: tag !!float does not fit 'x': it takes a number "
        "(remove the tag, or change the value)"),
    "a null tag on a word": (
        "!!null x", "9:9: tag !!null does not fit 'x': it takes nothing (null, ~ or empty) "
        "(remove the tag, or change the value)"),
    "a timestamp tag on a word": (
        "!!timestamp x", "9:9: tag !!timestamp does not fit 'x': it takes a date or a "
        "timestamp (remove the tag, or change the value)"),
    "an unknown local tag": (
        "!foo text", "9:9: unsupported tag !foo (model files take text, numbers, true or "
        "false, dates, lists and mappings: remove the tag)"),
    "a tag the safe loader refuses": (
        "!!python/object:os.system text", "9:9: unsupported tag !!python/object:os.system "
        "(model files take text, numbers, true or false, dates, lists and mappings: "
        "remove the tag)"),
    "a set": (
        "!!set {a, b}", "9:9: unsupported tag !!set (model files take text, numbers, true or "
        "false, dates, lists and mappings: remove the tag)"),
    "a scalar tag on a list": (
        "!!int [1, 2]", "9:9: tag !!int is for a single value, not a list"),
    "a mapping tag on a word": (
        "!!map text", "9:9: tag !!map is for a mapping, not a single value"),
}


@pytest.mark.parametrize(("value", "expected"), TAG_PROBLEMS.values(), ids=TAG_PROBLEMS.keys())
def test_a_value_that_does_not_fit_its_tag_is_a_problem_at_the_tag(
        example_project: Path, value: str, expected: str) -> None:
    edit(example_project, CRM, "city: text", f"city: {value}")
    # the broken file makes no follow-up problems in the files that name the source
    assert problems(example_project) == [f"{CRM}:{expected}"]


def test_every_tag_problem_of_a_file_is_listed(example_project: Path) -> None:
    edit(example_project, CRM, "city: text", "city: !!bool maybe")
    edit(example_project, CRM, "name: text", "name: !!int x")
    assert problems(example_project) == [
        f"{CRM}:7:9: tag !!int does not fit 'x': it takes a whole number "
        "(remove the tag, or change the value)",
        f"{CRM}:9:9: tag !!bool does not fit 'maybe': it takes true or false "
        "(remove the tag, or change the value)",
    ]


def test_tags_that_fit_their_values_are_read(example_project: Path) -> None:
    edit(example_project, CRM, "city: text", "city: !!str text")
    edit(example_project, CONFIG, "hash: md5", "hash: !!str md5")
    edit(example_project, "models/marts/customers.yml", "to: 2026-04-01", "to: !!timestamp "
         "2026-04-01")
    result = run_validate(example_project)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("number", ["1" * 5000, "-" + "9" * 4301, "0x" + "f" * 5000])
def test_a_huge_integer_is_a_problem(example_project: Path, number: str) -> None:
    edit(example_project, CRM, "city: text", f"city: {number}")
    assert problems(example_project) == [
        f"{CRM}:9:9: the number {number[:12]}... is too long: more than 4,300 digits "
        "(quote it if it is a text)"]


def test_a_long_integer_within_the_limit_is_checked_like_any_value(example_project: Path) -> None:
    number = "7" * 4300
    edit(example_project, CRM, "city: text", f"city: {number}")
    [problem] = problems(example_project)
    assert problem.startswith(f"{CRM}:9:9: unknown type {int(number)!r} for column 'city'")


def test_flow_lists_nested_thousands_deep_are_a_problem(example_project: Path) -> None:
    edit(example_project, HUB, "description: A customer, known by the CRM's customer number.",
         "description: " + "[" * 5000 + "]" * 5000)
    assert problems(example_project) == [
        f"{HUB}:1:113: nested too deep: more than 100 levels of lists and mappings"]


def test_block_mappings_nested_thousands_deep_are_a_problem(example_project: Path) -> None:
    deep = "".join(f"{' ' * i}k{i}:\n" for i in range(5000))
    write_project(example_project, {"models/marts/customers.yml": deep})
    assert problems(example_project) == [
        "models/marts/customers.yml:101:101: nested too deep: more than 100 levels of lists "
        "and mappings"]


def test_an_alias_bomb_is_refused(example_project: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    write_project(example_project, {"models/marts/customers.yml": "\n".join(lines) + "\n"})
    assert problems(example_project) == [
        "models/marts/customers.yml:5:45: aliases repeat more than 100,000 values here "
        "(each *alias repeats the whole value of its &anchor; write the values out)"]


def test_aliases_and_merge_keys_within_the_limit_are_read(example_project: Path) -> None:
    write_project(example_project, {"models/marts/customers.yml": (
        "base: &base\n  every: month\n  from: 2026-01-01\n"
        "description: x\npit: customer\nspine:\n  <<: *base\n  to: 2026-04-01\n")})
    edit(example_project, "models/marts/customers.yml", "base: &base", "description: &base")
    edit(example_project, "models/marts/customers.yml", "description: x\n", "")
    result = run_validate(example_project)
    assert result.exit_code == 1  # description: must be a text, nothing else
    assert result.stderr.splitlines()[0] == (
        "models/marts/customers.yml:1:14: description must be a text "
        "(quote it if it contains a colon followed by a space)")
    edit(example_project, "models/marts/customers.yml", "description: &base",
         "spine_defaults: &base")
    [problem] = problems(example_project)
    assert problem.startswith("models/marts/customers.yml:1:1: unknown key 'spine_defaults'")


@pytest.mark.parametrize(("text", "expected"), [
    ("pit: *nowhere\n", "1:6: unknown alias *nowhere (an alias repeats a value marked "
                        "&nowhere earlier in the same file)"),
    ("pit: &me [*me]\n", "1:11: alias *me is inside the value it repeats"),
])
def test_an_alias_without_its_anchor_is_a_problem(example_project: Path, text: str,
                                                  expected: str) -> None:
    write_project(example_project, {"models/marts/customers.yml": text})
    assert problems(example_project) == [f"models/marts/customers.yml:{expected}"]


def test_bytes_that_are_not_utf8_are_placed(example_project: Path) -> None:
    path = example_project / CRM
    path.write_bytes(path.read_bytes().replace(b"city: text", b"city: t\xe9xt"))
    assert problems(example_project) == [
        f"{CRM}:9:10: the file is not UTF-8 text: byte 0xe9 cannot be read (save it as UTF-8)"]


def test_bytes_that_are_not_utf8_after_a_byte_order_mark_are_placed(
        example_project: Path) -> None:
    path = example_project / CRM
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"city: text",
                                                                 b"city: t\xe9xt"))
    assert problems(example_project) == [
        f"{CRM}:9:10: the file is not UTF-8 text: byte 0xe9 cannot be read (save it as UTF-8)"]
    # a mark cut short, and then a byte that no UTF-8 text begins with
    path.write_bytes(b"\xef\xff" + path.read_bytes()[3:])
    assert problems(example_project) == [
        f"{CRM}:1:1: the file is not UTF-8 text: byte 0xef cannot be read (save it as UTF-8)"]


def test_a_control_character_is_placed(example_project: Path) -> None:
    edit(example_project, CRM, "city: text", "city: te\x00xt")
    assert problems(example_project) == [
        f"{CRM}:9:11: invalid YAML: character '\\x00' is not allowed (remove it)"]


@pytest.mark.parametrize("mark", ["\x85", "\u2028", "\u2029", "\r"])
def test_places_count_lines_by_line_feeds_only(example_project: Path, mark: str) -> None:
    # YAML also ends a line at these; an editor, and the rest of the message, do not
    path = example_project / CRM
    path.write_bytes(path.read_bytes().replace(b"city: text", b"city: txt").replace(
        b"batch: snapshot", f"batch: snapshot{mark}".encode()))
    assert problems(example_project) == [
        f"{CRM}:9:9: unknown type 'txt' for column 'city' (did you mean 'text'?)"]


def test_a_byte_order_mark_is_read(example_project: Path) -> None:
    path = example_project / CRM
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"city: text", b"city: txt"))
    assert problems(example_project) == [
        f"{CRM}:9:9: unknown type 'txt' for column 'city' (did you mean 'text'?)"]


def test_a_second_document_is_a_problem(example_project: Path) -> None:
    append(example_project, CRM, "---\nmore: 1")
    second = len((example_project / CRM).read_text(encoding="utf-8").splitlines()) - 1
    assert problems(example_project) == [
        f"{CRM}:{second}:1: a model file holds one YAML document; a second one starts here "
        "(remove the --- line and what follows it)"]


# ---- a source that feeds nothing ------------------------------------------------------------
def test_a_source_that_feeds_no_entity_is_a_problem(example_project: Path) -> None:
    write_project(example_project, {
        "models/sources/returns.yml": "columns:\n  customer_number: text\n  reason: text\n",
        "models/sources/audit.yml": "columns:\n  entry: integer\n",
    })
    assert problems(example_project) == [
        "models/sources/audit.yml:1:1: source 'audit' feeds no hub, link, satellite or "
        "reference table, so a load of it would keep nothing (list it under sources: of a hub "
        "or link (customer, order, order_customer), or name it as the source: of a reference "
        "table (a code list, models/reference_tables/))",
        "models/sources/returns.yml:1:1: source 'returns' feeds no hub, link, satellite or "
        "reference table, so a load of it would keep nothing (it has the key columns of hub "
        "'customer': list it under sources: in models/hubs/customer.yml)",
    ]


def test_a_source_named_by_a_broken_hub_file_is_not_reported_again(
        example_project: Path) -> None:
    edit(example_project, "models/hubs/order.yml", "\nsources:", "\n sources:")
    lines = problems(example_project)
    assert [line.split(":")[0] for line in lines] == ["models/hubs/order.yml"]


# ---- mart spines: their size is known when the model is read ---------------------------------
@pytest.mark.parametrize(("spine", "expected"), [
    ("  every: day\n  from: 1752-01-01\n  to: 2025-10-16\n",
     "the spine makes 100,001 snapshots, more than 100,000"),
    ("  every: day\n  from: 0001-01-01\n  to: 9999-12-31\n",
     "the spine makes 3,652,059 snapshots, more than 100,000"),
    ("  ladder:\n  - every: month\n    for: 100001\n  to: 2026-01-01\n",
     "the spine reaches outside the calendar (years 1 to 9999)"),
    ("  every: month\n  from: 9999-12-01\n  to: 9999-12-31\n", None),
])
def test_the_size_of_a_spine_is_checked_by_validate(example_project: Path, spine: str,
                                                    expected: str | None) -> None:
    mart = "models/marts/customers.yml"
    text = (example_project / mart).read_text(encoding="utf-8")
    (example_project / mart).write_text(text.split("spine:")[0] + "spine:\n" + spine,
                                        encoding="utf-8")
    if expected is None:
        assert run_validate(example_project).exit_code == 0
        return
    [problem] = problems(example_project)
    assert problem.startswith(f"{mart}:5:3: {expected} (")


def test_a_spine_of_many_dates_is_checked_by_validate(example_project: Path) -> None:
    import datetime as dt
    days = [dt.date(1800, 1, 1) + dt.timedelta(days=i) for i in range(100_001)]
    mart = "models/marts/customers.yml"
    text = (example_project / mart).read_text(encoding="utf-8")
    (example_project / mart).write_text(
        text.split("spine:")[0] + "spine:\n  dates: [" + ", ".join(map(str, days)) + "]\n",
        encoding="utf-8")
    [problem] = problems(example_project)
    assert problem == (f"{mart}:5:3: the spine makes 100,001 snapshots, more than 100,000 "
                       "(a mart holds a row per key and snapshot; list fewer dates)")


@pytest.mark.parametrize(("value", "read_as"), [
    ("no", "the value false"), ("1.10", "the number 1.1"), ("2026-01-01", "datetime.date"),
])
def test_a_record_source_yaml_reads_as_another_value_says_to_quote_it(
        example_project: Path, value: str, read_as: str) -> None:
    edit(example_project, CRM, "record_source: crm.customers", f"record_source: {value}")
    [problem] = problems(example_project)
    assert problem.startswith(f"{CRM}:2:16: record_source must be a non-empty text, not ")
    assert read_as in problem and problem.endswith("put the text in quotes)"), problem
