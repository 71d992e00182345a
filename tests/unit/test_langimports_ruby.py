"""Ruby requires (slimmer/langimports/ruby.py): what a file names, the files Ruby loads
for it, and $LOAD_PATH, on small fake images."""
from __future__ import annotations

import pytest

from slimmer.langimports import ImportResolver, discover, ruby_path, scan_ruby
from tests.unit.langfs import FakeFs, Link, Proc, imports


# --- Ruby ----------------------------------------------------------------------------------

RB = b'''
# require 'commented'
=begin
require 'in_block'
=end
require 'yaml'
require "json"
require_relative 'lib/helper'
require File.expand_path('../support/util', __FILE__)
require File.join(__dir__, 'support', 'more')
$LOAD_PATH.unshift File.expand_path('vendor', __dir__)
autoload :Digest, 'digest'
def lazy
  require 'net/http' if ENV['X']
  require "plugins/#{name}"        # interpolated: out of reach
end
__END__
require 'after_end'
'''


def test_ruby_scan():
    found = scan_ruby(RB)
    assert [(imp.name, imp.kind) for imp in found] == [
        ("yaml", "require"), ("json", "require"), ("lib/helper", "require_relative"),
        ("../support/util", "require_file"), ("support/more", "require_relative"),
        ("vendor", "load_path"), ("digest", "require"), ("net/http", "require")]


RUBY = {
    "/usr/bin/ruby3.1": b"\x7fELF",
    "/usr/bin/ruby": Link("ruby3.1"),
    "/usr/lib/ruby/3.1.0/yaml.rb": "require 'psych'\n",
    "/usr/lib/ruby/3.1.0/psych.rb": "require 'psych.so'\nrequire 'psych/versions'\n",
    "/usr/lib/ruby/3.1.0/psych/versions.rb": "",
    "/usr/lib/ruby/3.1.0/psych/nodes/node.rb": "",
    "/usr/lib/ruby/3.1.0/digest.rb": "",
    "/usr/lib/ruby/3.1.0/digest/sha2.rb": "",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/psych.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/digest.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/digest/sha2.so": b"\x7fELF",
    "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/json/ext/parser.so": b"\x7fELF",
    "/usr/lib/ruby/vendor_ruby": "DIR",
    "/usr/local/lib/site_ruby": "DIR",
    "/var/lib/gems/3.1.0/gems/sinatra-3.0.5/lib/sinatra.rb": "",
    "/app/app.rb": "",
    "/app/lib/helper.rb": "",
    "/app/support/util.rb": "",
}


def test_ruby_load_path_order_debian():
    fs = FakeFs(RUBY)
    assert ruby_path(fs, {"RUBYLIB": "/opt/rb"}, [Proc("/usr/bin/ruby3.1", ("ruby", "-I/app/lib", "app.rb"))]).dirs \
        == ("/app/lib", "/usr/local/lib/site_ruby", "/usr/lib/ruby/vendor_ruby", "/usr/lib/ruby/3.1.0",
            "/usr/lib/x86_64-linux-gnu/ruby/3.1.0", "/var/lib/gems/3.1.0/gems/sinatra-3.0.5/lib")


def test_ruby_load_path_of_the_official_image_layout():
    fs = FakeFs({"/usr/local/bin/ruby": b"\x7fELF",
                 "/usr/local/lib/ruby/3.2.0/yaml.rb": "",
                 "/usr/local/lib/ruby/3.2.0/x86_64-linux/psych.so": b"\x7fELF",
                 "/usr/local/lib/ruby/site_ruby/3.2.0": "DIR",
                 "/usr/local/bundle/gems/rack-3.0.8/lib/rack.rb": ""})
    assert ruby_path(fs, {}, []).dirs == ("/usr/local/lib/ruby/site_ruby/3.2.0", "/usr/local/lib/ruby/site_ruby",
                                          "/usr/local/lib/ruby/3.2.0",
                                          "/usr/local/lib/ruby/3.2.0/x86_64-linux",
                                          "/usr/local/bundle/gems/rack-3.0.8/lib")


@pytest.mark.parametrize("source, expected", [
    ("require 'yaml'\n", ["/usr/lib/ruby/3.1.0/yaml.rb"]),
    ("require 'psych.so'\n", ["/usr/lib/x86_64-linux-gnu/ruby/3.1.0/psych.so"]),
    ("require 'json/ext/parser'\n", ["/usr/lib/x86_64-linux-gnu/ruby/3.1.0/json/ext/parser.so"]),
    ("require 'digest'\n", ["/usr/lib/ruby/3.1.0/digest.rb"]),          # .rb before .so in a dir
    ("require 'sinatra'\n", ["/var/lib/gems/3.1.0/gems/sinatra-3.0.5/lib/sinatra.rb"]),
    ("require_relative 'lib/helper'\n", ["/app/lib/helper.rb"]),
    ("require File.expand_path('../support/util', __FILE__)\n", ["/app/support/util.rb"]),
    ("require File.join(File.dirname(__FILE__), 'support', 'util')\n", ["/app/support/util.rb"]),
    ("$:.unshift File.expand_path('lib', __dir__)\nrequire 'helper'\n", ["/app/lib/helper.rb"]),
    ("require 'no/such'\n", []),
])
def test_ruby_resolution(source, expected):
    fs = FakeFs({**RUBY, "/app/app.rb": source})
    assert imports(fs, "/app/app.rb") == expected


def test_rubygems_boot_file_does_not_pull_bundler():
    fs = FakeFs({**RUBY, "/usr/lib/ruby/vendor_ruby/rubygems.rb": "def self.use_gemdeps\n  require 'bundler'\nend\n"
                                                               "require 'digest'\n",
                 "/usr/lib/ruby/3.1.0/bundler.rb": "", "/app/app.rb": "require 'bundler'\n"})
    assert imports(fs, "/usr/lib/ruby/vendor_ruby/rubygems.rb") == ["/usr/lib/ruby/3.1.0/digest.rb"]
    assert imports(fs, "/app/app.rb") == ["/usr/lib/ruby/3.1.0/bundler.rb"]


def test_ruby_extension_keeps_its_pure_ruby_counterpart():
    fs = FakeFs(RUBY)
    resolver = ImportResolver(fs, discover(fs, {}, []))
    assert resolver.ruby_counterparts("/usr/lib/x86_64-linux-gnu/ruby/3.1.0/psych.so") == [
        "/usr/lib/ruby/3.1.0/psych.rb", "/usr/lib/ruby/3.1.0/psych/nodes/node.rb",
        "/usr/lib/ruby/3.1.0/psych/versions.rb"]
    assert resolver.ruby_counterparts("/usr/lib/x86_64-linux-gnu/ruby/3.1.0/digest/sha2.so") == [
        "/usr/lib/ruby/3.1.0/digest/sha2.rb"]
    assert resolver.ruby_counterparts("/usr/lib/x86_64-linux-gnu/libyaml-0.so.2") == []
