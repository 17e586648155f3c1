# cmake/package.cmake — install rules and the Debian package (issue 14).
#
#   cmake --install build --prefix /usr [DESTDIR=...]   the files below
#   (cd build && cpack -G DEB)                          build/skipstore_<ver>_<arch>.deb
#   ./dev package                                       both + lintian + content checks
#
# Layout: /usr/bin/{skipstored,skipstore-mirror,skipctl,skipbench};
# /lib/systemd/system/{skipstored,skipstore-mirror}.service;
# /etc/skipstore/skipstore.yaml (conffile, 0640 root:skipstore by postinst);
# /usr/share/skipstore/schema/*.sql; /usr/share/doc/skipstore/ (README, docs,
# examples); man pages generated from --help (packaging/mkman.sh).
# Included from the top CMakeLists.txt, after the targets exist.

set(SKIP_PKG_MAINTAINER "skipstore maintainers <skipstore@example.org>")

install(TARGETS skipstored skipstore-mirror skipctl skipbench RUNTIME DESTINATION bin)
# Full RELRO for what we ship (lintian hardening-no-bindnow): the GOT is made
# read-only after start-up; costs only the eager symbol binding at exec.
foreach(_t skipstored skipstore-mirror skipctl skipbench)
  target_link_options(${_t} PRIVATE -Wl,-z,relro -Wl,-z,now)
endforeach()

# Absolute: systemd and /etc do not move with the prefix (the units name /usr/bin).
install(FILES packaging/systemd/skipstored.service packaging/systemd/skipstore-mirror.service
        DESTINATION /lib/systemd/system)
install(FILES config/skipstore.production.yaml DESTINATION /etc/skipstore RENAME skipstore.yaml)

install(DIRECTORY devtools/schema/ DESTINATION share/skipstore/schema FILES_MATCHING PATTERN "*.sql")
install(FILES config/skipstore.example.yaml config/skipstore.production.yaml config/keys.example.yaml
        DESTINATION share/doc/skipstore/examples)
install(FILES packaging/debian/copyright DESTINATION share/doc/skipstore)

# Generated at install time (not by every build): man pages from the
# programs' --help, and the compressed docs and changelog Debian wants.
install(CODE "
  set(_root \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  execute_process(COMMAND sh \"${CMAKE_SOURCE_DIR}/packaging/mkman.sh\" \"$<TARGET_FILE_DIR:skipstored>\"
                          \"\${_root}/share/man\" \"${PROJECT_VERSION}\" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR \"packaging/mkman.sh failed: \${_rc}\")
  endif()
  execute_process(COMMAND sh \"${CMAKE_SOURCE_DIR}/packaging/mkdoc.sh\" \"${CMAKE_SOURCE_DIR}\"
                          \"\${_root}/share/doc/skipstore\" \"${PROJECT_VERSION}\" \"${SKIP_PKG_MAINTAINER}\"
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR \"packaging/mkdoc.sh failed: \${_rc}\")
  endif()
")

# ---- cpack -G DEB
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME skipstore)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "${SKIP_PKG_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SKIP_PKG_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "high-availability order store for payment cashier systems")
# the synopsis line is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the rest
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "skipstore spreads new orders over several MariaDB groups and skips a failed
group, so taking payments never stops while any group can take the write.
This package holds the daemon (skipstored), the Kafka-to-merchant-store
mirror (skipstore-mirror), the operator tool (skipctl), the load generator
(skipbench), their systemd units and an example production configuration.")
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends: the shared libraries the binaries link (dpkg-shlibdeps), plus what
# the maintainer scripts run. librdkafka, dlopen'ed by skipstored's relay,
# comes in through skipstore-mirror, which links it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# (deb-systemd-invoke, used by prerm, is in init-system-helpers: essential)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/debian/postinst;${CMAKE_SOURCE_DIR}/packaging/debian/prerm;${CMAKE_SOURCE_DIR}/packaging/debian/postrm;${CMAKE_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_OUTPUT_FILE_PREFIX "${CMAKE_BINARY_DIR}")
include(CPack)

# ---- checks run by ctest (./dev test --unit): the units as installed pass
# `systemd-analyze verify`; every program keeps the --help conventions.
add_test(NAME pkg_verify_units COMMAND sh ${CMAKE_SOURCE_DIR}/packaging/verify-units.sh ${CMAKE_BINARY_DIR})
add_test(NAME pkg_check_help COMMAND sh ${CMAKE_SOURCE_DIR}/packaging/check-help.sh $<TARGET_FILE_DIR:skipstored>)
