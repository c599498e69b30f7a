#!/usr/bin/env bash
# Prints the Debian mirror this machine's own apt sources use (the first `deb` entry for its own
# release: its codename, -updates or -backports, a suite alias such as stable, or one of the
# suites given as arguments, e.g. trixie), read from
# sources.list, sources.list.d/*.list (one-line format) and sources.list.d/*.sources (deb822).
# No address is written in here: a machine without such a source is told so, exit status 1.
# BM_APT_ROOT (tests only) is a folder standing for / (its etc/apt and etc/os-release).
set -euo pipefail
root=${BM_APT_ROOT:-}
etc=$root/etc/apt
codename=$(. "$root/etc/os-release" 2>/dev/null && echo "${VERSION_CODENAME:-}") || codename=
shopt -s nullglob
one_line=()
[[ -f $etc/sources.list ]] && one_line+=("$etc/sources.list")
one_line+=("$etc"/sources.list.d/*.list)
deb822=("$etc"/sources.list.d/*.sources)

# Each source as "URI SUITE" lines, in apt's order: sources.list, then sources.list.d by name.
entries() {
  local f
  for f in "${one_line[@]}"; do
    # deb [opt=a opt2=b] URI SUITE COMPONENT...: the options in brackets may hold spaces.
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
  for f in "${deb822[@]}"; do
    awk '
      function flush(   i, j, u, s, nu, ns) {
        if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/) {
          nu = split(uris, u, " "); ns = split(suites, s, " ")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
        }
        types = uris = suites = enabled = ""; field = ""
      }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { if (field == "uris") uris = uris " " $0; else if (field == "suites") suites = suites " " $0; next }
      {
        name = tolower($0); sub(/:.*/, "", name)
        value = $0; sub(/^[^:]*:[ \t]*/, "", value)
        field = name
        if (name == "types") types = value
        else if (name == "uris") uris = value
        else if (name == "suites") suites = value
        else if (name == "enabled") enabled = tolower(value)
      }
      END { flush() }
    ' "$f"
  done
}

mirror=$(entries | awk -v c="$codename" -v also="$*" '
  $1 ~ /^cdrom:/ { next }
  { suite = $2; sub(/\/$/, "", suite) }
  (c != "" && (suite == c || suite == c "-updates" || suite == c "-backports")) || suite ~ /^(oldstable|stable|testing|unstable|sid)(-updates)?$/ || index(" " also " ", " " suite " ") {
    uri = $1; sub(/\/+$/, "", uri); print uri; exit
  }')
if [[ -z $mirror ]]; then
  echo "No Debian mirror in this machine's apt sources ($etc/sources.list, sources.list.d/*.list or *.sources): add the one this machine installs from, then run again." >&2
  exit 1
fi
echo "$mirror"
