INSERT INTO RefNbr (RefNbr, DocType, Crtd_DateTime, Crtd_Prog, Crtd_User, LUpd_DateTime, LUpd_Prog, LUpd_User) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
