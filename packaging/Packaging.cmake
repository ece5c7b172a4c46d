# The Debian package: `cpack -G DEB` in a build folder writes gridhub_<version>_amd64.deb with
# /usr/bin/gridhub, the example configs as conffiles in /etc/gridhub, the three systemd units
# and the maintainer scripts of packaging/debian. Included last from the top CMakeLists.txt.
#
# Two install components: `runtime` (the binary, relative to CMAKE_INSTALL_PREFIX) is what a
# plain `cmake --install` copies; `service` (configs, units, docs at absolute Debian paths) is
# EXCLUDE_FROM_ALL, so only the package — or an explicit `--component service` — writes into
# /etc and /lib/systemd. The version is project(VERSION), the same one `gridhub --version` and
# the gridhub_build_info metric print.
include(GNUInstallDirs)

set(_pkg ${PROJECT_SOURCE_DIR}/packaging)

install(FILES ${PROJECT_SOURCE_DIR}/config/hub.yaml ${PROJECT_SOURCE_DIR}/config/node.yaml
              ${PROJECT_SOURCE_DIR}/config/standalone.yaml
        DESTINATION /etc/gridhub COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${_pkg}/gridhub-hub.service ${_pkg}/gridhub-node.service
              ${_pkg}/gridhub-standalone.service
        DESTINATION /lib/systemd/system COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/docs/install.md ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION /usr/share/doc/gridhub COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/config/prometheus.yml
              ${PROJECT_SOURCE_DIR}/config/grafana-dashboard.json
        DESTINATION /usr/share/doc/gridhub/examples COMPONENT service EXCLUDE_FROM_ALL)

set(GRIDHUB_PACKAGE_CONTACT "gridhub maintainers <maintainers@gridhub.invalid>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gridhub)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${GRIDHUB_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Selenium-Grid-style WebDriver hub, node agent and queue")
set(CPACK_PACKAGE_DESCRIPTION
    "gridhub matches WebDriver new-session requests against the slots node agents register,\n\
queues what cannot be served yet (fairly across labels, with caps), routes every command\n\
of a session to its node and exports queue and utilisation metrics to Prometheus.\n\
One binary runs as hub, node or standalone; systemd units for each are included.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Both components in one package.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL runtime service)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # gridhub_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps; adduser is what postinst calls.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# A node or standalone starts chromedriver and Chromium; a hub needs neither.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "chromium, chromium-driver")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_pkg}/debian/conffiles ${_pkg}/debian/postinst ${_pkg}/debian/prerm ${_pkg}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
