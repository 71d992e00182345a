# ruby-yaml sample: libraries are required only in the branch that needs them.
#   job.rb hello          one line, nothing required (the default CMD)
#   job.rb yaml FILE      FILE parsed with YAML (psych), printed as JSON
#   job.rb digest FILE    SHA-256 of FILE (digest/sha2)
# Exit codes: 0 done, 2 bad usage, 1 unreadable file.
mode = ARGV[0] || "hello"
file = ARGV[1]

if mode == "hello"
  puts "ruby-yaml: hello from ruby #{RUBY_VERSION}"
  exit 0
end
unless file
  warn "usage: job.rb hello | yaml FILE | digest FILE"
  exit 2
end
begin
  data = File.binread(file)
rescue SystemCallError => e
  warn "job.rb: #{e.message}"
  exit 1
end

case mode
when "yaml"
  require "yaml"
  require "json"
  parsed = YAML.safe_load(data)
  puts JSON.generate(parsed)
  puts "psych #{Psych::VERSION}, libyaml #{Psych::LIBYAML_VERSION}"
when "digest"
  require "digest/sha2"
  puts "sha256=#{Digest::SHA256.hexdigest(data)}"
else
  warn "job.rb: unknown mode '#{mode}'"
  exit 2
end
