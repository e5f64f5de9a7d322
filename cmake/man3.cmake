# Section-3 man pages: docs/man3/sockkit.3 (the overview) and docs/man3/sockkit_<part>.3, one per
# public header, plus one alias page per public function (".so man3/sockkit_sock.3" in
# sk_send_all.3) so that `man sk_send_all` finds the page of its part.
#
# The aliases are generated from the pages' SYNOPSIS sections, not from a list kept by hand: a
# function gets its alias by having its prototype in a SYNOPSIS. They are written at configure
# time (cmake re-runs when a page changes) into ${PROJECT_BINARY_DIR}/man/man3, next to copies of
# the pages, so `man -M build/man sk_send_all` works from the build tree too.
# tests/install/man3_coverage.py checks that every function the headers declare has both.
file(GLOB SK_MAN3_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man3/*.3)
set(SK_MAN3_DIR ${PROJECT_BINARY_DIR}/man/man3)
set(SK_MAN3_ALIASES "")
foreach(page ${SK_MAN3_PAGES})
  get_filename_component(page_name ${page} NAME)
  configure_file(${page} ${SK_MAN3_DIR}/${page_name} COPYONLY) # also re-runs cmake on a change
  file(READ ${page} text)
  # The SYNOPSIS section: from its .SH line to the next .SH line.
  string(FIND "${text}" "\n.SH SYNOPSIS" from)
  if(from LESS 0)
    continue()
  endif()
  math(EXPR from "${from} + 1")
  string(SUBSTRING "${text}" ${from} -1 synopsis)
  string(FIND "${synopsis}" "\n.SH " to)
  if(to GREATER_EQUAL 0)
    string(SUBSTRING "${synopsis}" 0 ${to} synopsis)
  endif()
  # A prototype names its function right before "(": "int sk_close(int " fd );
  string(REGEX MATCHALL "sk_[a-z0-9_]+\\(" calls "${synopsis}")
  foreach(call ${calls})
    string(REGEX REPLACE "\\($" "" fn "${call}")
    if(fn IN_LIST SK_MAN3_ALIASES)
      message(WARNING "man3: ${fn} is in the SYNOPSIS of more than one page (${page_name})")
      continue()
    endif()
    list(APPEND SK_MAN3_ALIASES ${fn})
    file(CONFIGURE OUTPUT ${SK_MAN3_DIR}/${fn}.3 CONTENT ".so man3/${page_name}\n")
  endforeach()
endforeach()

# Remove aliases (and page copies) left from an earlier configure whose source is gone.
file(GLOB sk_man3_built ${SK_MAN3_DIR}/*.3)
foreach(f ${sk_man3_built})
  get_filename_component(name ${f} NAME)
  string(REGEX REPLACE "\\.3$" "" stem "${name}")
  if(NOT stem IN_LIST SK_MAN3_ALIASES AND NOT EXISTS ${PROJECT_SOURCE_DIR}/docs/man3/${name})
    file(REMOVE ${f})
  endif()
endforeach()

list(TRANSFORM SK_MAN3_ALIASES PREPEND ${SK_MAN3_DIR}/ OUTPUT_VARIABLE sk_man3_alias_files)
list(TRANSFORM sk_man3_alias_files APPEND .3)
install(FILES ${SK_MAN3_PAGES} ${sk_man3_alias_files} DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
