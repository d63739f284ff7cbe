# install.cmake - `make install` (cmake --install) and `make deb` (CPack DEB): the binary,
# the example configuration, the systemd unit, bash completion, the man page and
# reference copies of the built-in policies and plugins (the binary carries its own).
include(GNUInstallDirs)

# The man page is `vigil --help` and every `vigil COMMAND --help`, rendered at build time,
# compressed as Debian installs man pages.
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/vigil.1 ${CMAKE_BINARY_DIR}/vigil.1.gz
	COMMAND ${CMAKE_SOURCE_DIR}/scripts/man.sh $<TARGET_FILE:vigil> ${CMAKE_BINARY_DIR}/vigil.1
	COMMAND gzip -n -9 -f -k ${CMAKE_BINARY_DIR}/vigil.1
	DEPENDS vigil ${CMAKE_SOURCE_DIR}/scripts/man.sh
	COMMENT "Generating the man page vigil.1 from vigil --help")
add_custom_target(vigil_man ALL DEPENDS ${CMAKE_BINARY_DIR}/vigil.1.gz)


install(TARGETS vigil RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The configuration is always /etc/vigil, whatever the prefix: that is where the unit reads it.
# An existing one is the operator's: kept, and the example put beside it.
install(CODE "set(_conf \"\$ENV{DESTDIR}/etc/vigil/vigil.conf.lua\")
	if(EXISTS \"\${_conf}\")
		message(STATUS \"Keeping: \${_conf} (the example: \${_conf}.example)\")
		file(INSTALL ${CMAKE_SOURCE_DIR}/packaging/vigil.conf.lua
			DESTINATION /etc/vigil RENAME vigil.conf.lua.example)
	else()
		file(INSTALL ${CMAKE_SOURCE_DIR}/packaging/vigil.conf.lua
			DESTINATION /etc/vigil)
	endif()")
# The unit names the installed binary: made at install time, so `cmake --install --prefix P`
# (and CPack, with DESTDIR) gets P/bin/vigil.
install(CODE "set(VIGIL_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
	configure_file(${CMAKE_SOURCE_DIR}/packaging/vigil.service.in
		${CMAKE_BINARY_DIR}/vigil.service @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/vigil.service DESTINATION lib/systemd/system)
install(FILES packaging/vigil.bash-completion DESTINATION
	${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME vigil)
install(FILES ${CMAKE_BINARY_DIR}/vigil.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY policies plugins DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil
	FILES_MATCHING PATTERN "*.lua" PATTERN "*.md")

# --- the Debian package: build/vigil_<version>_<arch>.deb ---------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "vigil maintainers <vigil@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "runtime policy engine for Linux containers (eBPF, Lua)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr) # a package installs under /usr
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON) # /etc/vigil lands in the package, not on this host
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# the unit's ExecReload runs /bin/kill, which a minimal Debian (debootstrap minbase, a
# container image) does not have; the libraries come from shlibdeps
set(CPACK_DEBIAN_PACKAGE_DEPENDS "procps")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
	${CMAKE_SOURCE_DIR}/packaging/deb/conffiles
	${CMAKE_SOURCE_DIR}/packaging/deb/postinst
	${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
