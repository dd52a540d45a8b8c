/* SPDX-License-Identifier: MIT */
/* serial.c: open a serial port raw and non-blocking (the BMS links, the inverter RS485 port). */
#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include "io.h"

bool io__baud_speed(unsigned long baud, speed_t *sp)
{
    static const struct {
        unsigned long baud;
        speed_t sp;
    } t[] = {{1200, B1200},     {2400, B2400},     {4800, B4800},    {9600, B9600},
             {19200, B19200},   {38400, B38400},   {57600, B57600},  {115200, B115200},
             {230400, B230400}, {460800, B460800}, {921600, B921600}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].baud == baud) {
            *sp = t[i].sp;
            return true;
        }
    return false;
}

int io__serial_open(const char *dev, speed_t sp, unsigned data_bits, char parity,
                    unsigned stop_bits, const char **what)
{
    *what = "open";
    int fd = open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct termios t;
    *what = "tcgetattr";
    if (tcgetattr(fd, &t) != 0) goto fail;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CSTOPB | CRTSCTS | CSIZE | PARENB | PARODD);
    t.c_cflag |= data_bits == 7 ? CS7 : CS8;
    if (parity == 'E') t.c_cflag |= PARENB;
    if (parity == 'O') t.c_cflag |= PARENB | PARODD;
    if (stop_bits == 2) t.c_cflag |= CSTOPB;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    /* VMIN 1: with O_NONBLOCK an empty read is EAGAIN; VMIN 0 would make it 0, which is also
     * what a hung-up terminal returns, and the two must stay apart */
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    *what = "cfsetspeed";
    if (cfsetispeed(&t, sp) != 0 || cfsetospeed(&t, sp) != 0) goto fail;
    *what = "tcsetattr";
    if (tcsetattr(fd, TCSANOW, &t) != 0) goto fail;
    (void)tcflush(fd, TCIOFLUSH); /* bytes from before are of no use */
    return fd;
fail : {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}
}
