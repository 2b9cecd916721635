"""Configuration precedence, validation and the TOML round trip."""

import tomllib

import pytest

from reportgen.config import BuildConfig, config_to_toml, load_config_file, resolve_config
from reportgen.errors import ConfigError


def test_defaults_then_file_then_flags(tmp_path):
    config_file = tmp_path / "report.toml"
    config_file.write_text('images = 12\nseed = 7\n[build]\nsteps = 20\n')
    values = load_config_file(config_file)
    config = resolve_config(file_values=values, flag_values={"seed": 9})
    assert config.images == 12  # file beats default
    assert config.steps == 20  # [build] table is read
    assert config.seed == 9  # flag beats file
    assert config.lime_samples == BuildConfig().lime_samples  # default kept


def test_methods_accept_list_or_comma_separated():
    assert resolve_config(flag_values={"methods": "lime, grad_cam"}).methods == ("lime", "grad_cam")
    assert resolve_config(file_values={"methods": ["lime"]}).methods == ("lime",)


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"target": "truth"}, "invalid target 'truth'; choose from: predicted, label"),
        ({"deletion_substrate": "grey"}, "invalid deletion_substrate 'grey'; choose from: black, white, mean, blur"),
        ({"images": 0}, "'images' must be at least 1"),
        ({"images": "many"}, "'images' must be a whole number"),
        ({"train_fraction": 1.5}, "'train_fraction' must be in (0, 1]"),
        ({"pdf": "yes"}, "'pdf' must be true or false"),
        ({"methods": ["lime", "lime"]}, "names a method twice"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_invalid_values_name_the_key_and_the_valid_values(values, fragment):
    with pytest.raises(ConfigError) as raised:
        resolve_config(file_values=values)
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unknown_file_key_lists_valid_keys(tmp_path):
    config_file = tmp_path / "bad.toml"
    config_file.write_text("imagez = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'imagez' in config file .*valid keys: .*images"):
        load_config_file(config_file)


def test_malformed_and_missing_files_are_config_errors(tmp_path):
    malformed = tmp_path / "broken.toml"
    malformed.write_text("images = [1,\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config_file(malformed)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "absent.toml")


def test_resolved_config_round_trips_through_toml():
    config = resolve_config(flag_values={"images": 4, "methods": "lime", "title": 'say "hi"\\'})
    reread = tomllib.loads(config_to_toml(config))["build"]
    assert resolve_config(file_values=reread) == config
