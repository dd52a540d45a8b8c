# SPDX-License-Identifier: MIT
# install.cmake: what `cmake --install` puts next to the binary (and so what scripts/package.sh
# packages): the systemd units, the example configuration and the place for the web page's assets.
# The program itself and any modules are installed by their own install() rules.
include(GNUInstallDirs)

# The units name /usr/bin/batlink and /etc/batlink/batlink.ini; an install under another prefix
# (e.g. /usr/local) gets units that name the paths of that install.
set(BL_SYSTEMD_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system
    CACHE PATH "where the systemd units are installed (systemd also looks in /usr/local/lib/...)")
set(BL_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/batlink)
foreach(unit batlink-monitor.service batlink-bridge.service)
  file(READ ${CMAKE_SOURCE_DIR}/packaging/${unit} text)
  string(REPLACE "/usr/bin/batlink " "${CMAKE_INSTALL_FULL_BINDIR}/batlink " text "${text}")
  string(REPLACE "/etc/batlink/" "${BL_CONFIG_DIR}/" text "${text}")
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/packaging/${unit} CONTENT "${text}")
  install(FILES ${CMAKE_BINARY_DIR}/packaging/${unit} DESTINATION ${BL_SYSTEMD_UNIT_DIR})
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_SOURCE_DIR}/packaging/batlink-monitor.service
             ${CMAKE_SOURCE_DIR}/packaging/batlink-bridge.service)

# The example configuration; a package marks it a conffile, so a changed copy is never
# overwritten by an upgrade.
install(FILES packaging/batlink.ini DESTINATION ${BL_CONFIG_DIR})

# The web page's static assets: share/batlink/ always exists; web/ fills it when the tree has one.
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_DATADIR}/batlink)
if(EXISTS ${CMAKE_SOURCE_DIR}/web)
  install(DIRECTORY web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/batlink/web)
endif()
